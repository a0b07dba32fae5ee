package status

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// The structs below are the reference for the hand-written check encoder:
// what encoding/json makes of them is what appendCheck must write.

type checksDoc struct {
	GeneratedAt string      `json:"generated_at"`
	Stale       bool        `json:"stale"`
	Checks      []checkJSON `json:"checks"`
}

type checkDoc struct {
	GeneratedAt string    `json:"generated_at"`
	Stale       bool      `json:"stale"`
	Check       checkJSON `json:"check"`
}

type checkJSON struct {
	Name       string               `json:"name"`
	Component  string               `json:"component"`
	Type       string               `json:"type"`
	Target     *string              `json:"target"`
	Interval   string               `json:"interval"`
	Timeout    string               `json:"timeout"`
	Status     detector.CheckStatus `json:"status"`
	Since      *string              `json:"since"`
	Warnings   []warningJSON        `json:"warnings"`
	LastResult *resultJSON          `json:"last_result"`
	Recent     []recentJSON         `json:"recent"`
}

type resultJSON struct {
	Status        probe.Status       `json:"status"`
	Reason        *string            `json:"reason"`
	Message       *string            `json:"message"`
	Start         string             `json:"start"`
	DurationMS    float64            `json:"duration_ms"`
	Phases        map[string]float64 `json:"phases"`
	StatusCode    *int               `json:"status_code"`
	CertExpiresAt *string            `json:"cert_expires_at"`
}

type warningJSON struct {
	Reason   string  `json:"reason"`
	Message  string  `json:"message"`
	NotAfter *string `json:"not_after"`
}

type recentJSON struct {
	Status     probe.Status `json:"status"`
	Reason     *string      `json:"reason"`
	Start      string       `json:"start"`
	DurationMS float64      `json:"duration_ms"`
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// refCheck maps a check the straightforward way.
func (b *builder) refCheck(c config.Check, st detector.Check) checkJSON {
	status := st.Status
	if status == "" {
		status = detector.Unknown
	}
	cj := checkJSON{Name: c.Name, Component: c.Component, Type: c.Type, Target: nullString(b.scrub(c.Target())),
		Interval: c.Interval.String(), Timeout: c.Timeout.String(), Status: status, Since: b.tsNull(st.Since),
		Warnings: []warningJSON{}, Recent: make([]recentJSON, 0, len(st.Recent))}
	if len(st.Recent) > 0 {
		r := st.Last
		for _, w := range r.Warnings {
			wj := warningJSON{Reason: string(w.Reason), Message: b.scrub(w.Message)}
			if w.Reason == probe.ReasonCertExpiry {
				wj.NotAfter = b.tsNull(r.CertNotAfter)
			}
			cj.Warnings = append(cj.Warnings, wj)
		}
		cj.LastResult = &resultJSON{Status: r.Status, Reason: nullString(string(r.Reason)),
			Message: nullString(b.scrub(r.Message)), Start: b.ts(r.Start), DurationMS: millis(r.Duration),
			Phases: map[string]float64{}, CertExpiresAt: b.tsNull(r.CertNotAfter)}
		for _, p := range r.Phases {
			cj.LastResult.Phases[p.Name+"_ms"] = millis(p.Duration)
		}
		if r.StatusCode != 0 {
			code := r.StatusCode
			cj.LastResult.StatusCode = &code
		}
	}
	for i := len(st.Recent) - 1; i >= 0; i-- {
		r := st.Recent[i]
		cj.Recent = append(cj.Recent, recentJSON{Status: r.Status(), Reason: nullString(string(r.Reason())),
			Start: b.ts(r.Start()), DurationMS: millis(r.Duration())})
	}
	return cj
}

// refGeneratedAt is when what is shown last changed, by the store's
// clock; failing that the epoch, failing that Now.
func refGeneratedAt(in Inputs) time.Time {
	switch {
	case in.ChecksUpdated.After(in.State.UpdatedAt):
		return in.ChecksUpdated
	case !in.State.UpdatedAt.IsZero():
		return in.State.UpdatedAt
	case !in.Epoch.IsZero():
		return in.Epoch
	}
	return in.Now
}

// refLists encodes both documents of in's checks with encoding/json.
func refLists(t testing.TB, in Inputs) (list []byte, docs map[string][]byte) {
	t.Helper()
	b := newBuilder(in, nil)
	states := map[string]detector.Check{}
	for _, c := range in.Checks {
		states[c.Name] = *c
	}
	gen := b.ts(refGeneratedAt(in))
	doc := checksDoc{GeneratedAt: gen, Stale: in.Stale, Checks: []checkJSON{}}
	docs = map[string][]byte{}
	for _, c := range in.Config.Checks {
		st, ok := states[c.Name]
		if !ok {
			st = detector.Check{Status: detector.Unknown}
		}
		cj := b.refCheck(c, st)
		doc.Checks = append(doc.Checks, cj)
		data, err := json.Marshal(checkDoc{GeneratedAt: gen, Stale: in.Stale, Check: cj})
		if err != nil {
			t.Fatal(err)
		}
		docs[c.Name] = data
	}
	list, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return list, docs
}

// oddChecks has strings that need escaping, phases out of order and
// repeated, and durations that encode with an exponent.
func oddChecks() (*config.Config, []detector.Check) {
	cfg := testConfig()
	cfg.Checks = append(cfg.Checks,
		config.Check{Name: "odd<&>\"\\\u2028é\x01", Component: "api", Type: "tcp", Interval: 90 * time.Second,
			Timeout: 1500 * time.Millisecond},
		config.Check{Name: "never-seen", Component: "db", Type: "http", Interval: time.Minute, Timeout: time.Second,
			HTTP: &config.HTTPCheck{URL: "https://db.example/h%2Fx?q=1"}})
	r := probe.Result{Status: probe.StatusDown, Reason: probe.ReasonLatency, Message: "bad \xff byte <b>\n\t\u2029 \"q\"",
		Start: t0, Duration: 400 * time.Nanosecond, StatusCode: 503, CertNotAfter: t0.Add(time.Hour),
		Phases: []probe.Phase{{Name: "tls", Duration: time.Millisecond}, {Name: "a_b", Duration: 2},
			{Name: "a", Duration: 3 * time.Millisecond}, {Name: "tls", Duration: 7 * time.Millisecond},
			{Name: "z", Duration: time.Duration(math.MaxInt64)}},
		Warnings: []probe.Warning{{Reason: probe.ReasonCertExpiry, Message: "certificate expires in <1 \u2028day"},
			{Reason: "other", Message: "\xff"}}}
	small := r
	small.Start, small.Duration, small.Phases = t0.Add(-time.Minute), 0, nil
	checks := append(testChecks(detector.Degraded), detector.Check{
		Spec:   detector.Spec{Name: "odd<&>\"\\\u2028é\x01"},
		Status: detector.Down, Since: t0.Add(-time.Minute), Last: r, Recent: detector.Samples([]probe.Result{small, r}),
	})
	return cfg, checks
}

// published is in as read from a store: the state changed ten minutes
// before Now and the checks five seconds before.
func published(in Inputs) Inputs {
	in.State.UpdatedAt, in.ChecksUpdated = in.Now.Add(-10*time.Minute), in.Now.Add(-5*time.Second)
	return in
}

func TestCheckEncodingMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cfg, checks := oddChecks()
	ins := map[string]Inputs{
		"scenario":     scenarios()[1].in,
		"published":    published(scenarios()[1].in),
		"odd":          {Config: cfg, Checks: ptrs(checks), Now: t0},
		"odd stale":    {Config: cfg, Checks: ptrs(checks), Now: t0.Add(time.Second), Stale: true},
		"no checks":    {Config: &config.Config{}, Now: t0},
		"bench":        benchInputs(t, 30),
		"other zone":   {Config: func() *config.Config { c := testConfig(); c.Page.TimeZone = "Asia/Kolkata"; return c }(), Checks: ptrs(testChecks(detector.Up)), Now: t0},
		"no state yet": {Config: testConfig(), Now: t0},
	}
	for name, in := range ins {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantList, wantDocs := refLists(t, in)
			snap := mustBuild(t, in)
			if got, _, _ := snap.Body(pathChecks); !bytes.Equal(got, wantList) {
				t.Errorf("list:\n got %s\nwant %s", got, wantList)
			}
			for _, c := range in.Config.Checks {
				if got, _, _ := snap.Body(pathChecks + "/" + c.Name); !bytes.Equal(got, wantDocs[c.Name]) {
					t.Errorf("%q:\n got %s\nwant %s", c.Name, got, wantDocs[c.Name])
				}
			}
		})
	}
}

func FuzzCheckEncoding(f *testing.F) {
	f.Add("web", "ok", "connect refused", "https://h.example/p", int64(123456789), "dns", int64(2e6))
	f.Add("<&>", "\u2028", "\xff\x00\"\\", "::", int64(1), "a_b", int64(0))
	f.Fuzz(func(t *testing.T, name, reason, msg, url string, dur int64, phase string, phaseDur int64) {
		cfg := &config.Config{Checks: []config.Check{{Name: name, Component: reason, Type: msg,
			Interval: time.Duration(dur), Timeout: time.Duration(phaseDur), HTTP: &config.HTTPCheck{URL: config.Secret(url)}}}}
		r := probe.Result{Status: probe.Status(reason), Reason: probe.Reason(msg), Message: msg, Start: t0,
			Duration: time.Duration(dur), Phases: []probe.Phase{{Name: phase, Duration: time.Duration(phaseDur)},
				{Name: reason, Duration: time.Duration(dur)}}, StatusCode: int(phaseDur % 1000),
			CertNotAfter: t0.Add(time.Duration(dur)), Warnings: []probe.Warning{{Reason: probe.ReasonCertExpiry, Message: msg},
				{Reason: probe.Reason(phase), Message: reason}}}
		st := detector.Check{Spec: detector.Spec{Name: name}, Status: detector.CheckStatus(phase), Last: r,
			Recent: detector.Samples([]probe.Result{r, r})}
		b := newBuilder(Inputs{Config: cfg, Now: t0}, nil)
		want, err := json.Marshal(b.refCheck(cfg.Checks[0], st))
		if err != nil {
			t.Fatal(err)
		}
		if got := b.appendCheck(nil, cfg.Checks[0], st); !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}

func TestAppendMillis(t *testing.T) {
	t.Parallel()
	ds := []time.Duration{0, 1, -1, 499, 500, 501, -499, -500, -501, 999, 1000, 1500, -1500, 123456789,
		time.Millisecond, 10 * time.Millisecond, 1<<40*time.Microsecond - 1, 1 << 40 * time.Microsecond,
		-1 << 40 * time.Microsecond, math.MaxInt64, math.MinInt64, 24 * time.Hour}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		ds = append(ds, time.Duration(rng.Int64N(1<<44)-1<<43), time.Duration(rng.Int64()), time.Duration(rng.Int64N(2e9)))
	}
	for _, d := range ds {
		if got, want := appendMillis(nil, d), appendFloat(nil, millis(d)); !bytes.Equal(got, want) {
			t.Fatalf("appendMillis(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{t0, {}, t0.Add(999999999), time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	for range 20000 {
		times = append(times, time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)))
	}
	for _, zone := range []string{"UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam",
		"Africa/Monrovia", "Pacific/Chatham"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		b := &builder{loc: loc}
		for _, tm := range times {
			if got, want := string(b.appendTime(nil, tm)), `"`+b.ts(tm)+`"`; got != want {
				t.Fatalf("%s: appendTime(%v) = %s, want %s", zone, tm, got, want)
			}
		}
	}
}
