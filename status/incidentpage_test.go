package status

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// burstIncident is a resolved incident with five updates within one minute
// (08:17) and its resolution at 08:18:00: it lasted 4 min 12 s by the
// times shown to the second (08:13:48 to 08:18:00).
func burstIncident() incident.Incident {
	at := func(hms string) time.Time {
		t, err := time.Parse("15:04:05.000", hms)
		if err != nil {
			panic(err)
		}
		return time.Date(2026, 11, 21, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	web := func(old, new detector.ComponentStatus) []incident.AffectedComponent {
		return []incident.AffectedComponent{{Code: "web-app", Name: "Web App", OldStatus: old, NewStatus: new}}
	}
	return incident.Incident{
		ID: "burst0000001", Name: "Web App flapping", Status: incident.Resolved, Impact: incident.ImpactMajor,
		Auto: true, StartedAt: at("08:13:48.700"), CreatedAt: at("08:17:03.400"), UpdatedAt: at("08:18:00.200"),
		MonitoringAt: at("08:17:58.000"), ResolvedAt: at("08:18:00.200"),
		Components: map[string]detector.ComponentStatus{"web-app": detector.Operational},
		Updates: []incident.Update{
			{ID: "b1", Status: incident.Investigating, Body: "Web App is down", CreatedAt: at("08:17:03.400"),
				AffectedComponents: web(detector.Operational, detector.MajorOutage)},
			{ID: "b2", Status: incident.Identified, Body: "A bad deploy", CreatedAt: at("08:17:15.000")},
			{ID: "b3", Status: incident.Monitoring, Body: "Rolled back", CreatedAt: at("08:17:31.000"),
				AffectedComponents: web(detector.MajorOutage, detector.Operational)},
			{ID: "b4", Status: incident.Investigating, Body: "Down again", CreatedAt: at("08:17:44.000"),
				AffectedComponents: web(detector.Operational, detector.PartialOutage)},
			{ID: "b5", Status: incident.Monitoring, Body: "Recovered", CreatedAt: at("08:17:58.000"),
				AffectedComponents: web(detector.PartialOutage, detector.Operational)},
			{ID: "b6", Status: incident.Resolved, Body: "Resolved", CreatedAt: at("08:18:00.200")},
		},
	}
}

// monitoringState: every component operational again, the open incident
// being monitored.
func monitoringState() incident.State {
	st := incidentState()
	for id, c := range st.Components {
		c.Status = detector.Operational
		st.Components[id] = c
	}
	open := &st.Incidents[0]
	open.Status, open.MonitoringAt = incident.Monitoring, t0.Add(-2*time.Minute)
	open.Updates = append(open.Updates, incident.Update{ID: "openupd3", Status: incident.Monitoring,
		Body: "Recovered", CreatedAt: open.MonitoringAt})
	return st
}

// serveHTTP starts a real server on 127.0.0.1 for h.
func serveHTTP(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fetch does one request without following redirects or decompressing.
func fetch(t *testing.T, method, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestIncidentRoute: GET /incidents/{id} serves the incident's page from
// the snapshot like every page (ETag, 304, HEAD, cache headers, gzip), and
// an unknown or malformed id gets the HTML not-found page, never a 500 or
// another body.
func TestIncidentRoute(t *testing.T) {
	t.Parallel()
	in := scenarios()[1].in
	srv := serveHTTP(t, newTestServer(t, ServerOptions{}, &in).Handler())
	page, _ := fetch(t, http.MethodGet, srv.URL+"/incidents/openincident", nil)
	etag := page.Header.Get("ETag")
	const found, notFound = "<h2>Web App and API unavailable</h2>", "<h2>Incident not found</h2>"
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		code               int
		contentType        string
		contains           string // "" wants an empty body
		cacheControl       string
	}{
		{"open incident", "GET", "/incidents/openincident", nil, 200, contentTypeHTML, found, "public, max-age=10"},
		{"resolved incident", "GET", "/incidents/oldincident01", nil, 200, contentTypeHTML, "<h2>Email delays</h2>", "public, max-age=10"},
		{"head", "HEAD", "/incidents/openincident", nil, 200, contentTypeHTML, "", "public, max-age=10"},
		{"if-none-match", "GET", "/incidents/openincident", map[string]string{"If-None-Match": etag}, 304, "", "", "public, max-age=10"},
		{"stale etag", "GET", "/incidents/openincident", map[string]string{"If-None-Match": `"other"`}, 200, contentTypeHTML, found, "public, max-age=10"},
		{"unknown", "GET", "/incidents/nosuchincid", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"head unknown", "HEAD", "/incidents/nosuchincid", nil, 404, contentTypeHTML, "", "no-store"},
		{"upper case", "GET", "/incidents/OPENINCIDENT", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"too long", "GET", "/incidents/" + strings.Repeat("a", maxIncidentIDBytes+1), nil, 404, contentTypeHTML, notFound, "no-store"},
		{"empty", "GET", "/incidents/", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"trailing slash", "GET", "/incidents/openincident/", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"two segments", "GET", "/incidents/openincident/x", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped slash", "GET", "/incidents/open%2Fincident", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped dots", "GET", "/incidents/%2e%2e%2fhistory", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped body path", "GET", "/incidents/..%2Fapi%2Fv2%2Fstatus.json", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"nul", "GET", "/incidents/openincident%00", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"query", "GET", "/incidents/openincident?x=%2F..", nil, 200, contentTypeHTML, found, "public, max-age=10"},
		{"post", "POST", "/incidents/openincident", nil, 405, contentTypeJSON, "method not allowed", "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := fetch(t, tc.method, srv.URL+tc.path, tc.hdr)
			if resp.StatusCode != tc.code || resp.Header.Get("Content-Type") != tc.contentType ||
				(tc.contains == "") != (body == "") || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %q %.200q; want %d %q containing %q", tc.method, tc.path, resp.StatusCode,
					resp.Header.Get("Content-Type"), body, tc.code, tc.contentType, tc.contains)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cacheControl {
				t.Errorf("Cache-Control %q, want %q", got, tc.cacheControl)
			}
			wantTag := "" // a not-found page has none
			switch {
			case tc.code == 404:
			case strings.HasPrefix(tc.path, "/incidents/openincident"):
				wantTag = etag
			default:
				wantTag = cmp.Or(resp.Header.Get("ETag"), "an ETag")
			}
			if tc.code != 405 && (resp.Header.Get("ETag") != wantTag || resp.Header.Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("ETag %q (want %q), nosniff %q", resp.Header.Get("ETag"), wantTag, resp.Header.Get("X-Content-Type-Options"))
			}
		})
	}
	t.Run("gzip", func(t *testing.T) {
		t.Parallel()
		resp, _ := fetch(t, "GET", srv.URL+"/incidents/openincident", map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
			t.Errorf("gzip: %d, Content-Encoding %q, ETag %q", resp.StatusCode, resp.Header.Get("Content-Encoding"),
				resp.Header.Get("ETag"))
		}
	})
	t.Run("no snapshot yet", func(t *testing.T) {
		t.Parallel()
		srv := serveHTTP(t, NewServer(ServerOptions{}).Handler())
		if resp, _ := fetch(t, "GET", srv.URL+"/incidents/openincident", nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("before the first snapshot: %d, want 503", resp.StatusCode)
		}
	})
}

// TestIncidentPagesBounded: pages exist for exactly the incidents the JSON
// lists (the incidentLimit most recent and every open one), so their
// number is bounded by what the snapshot holds anyway.
func TestIncidentPagesBounded(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	var ids []string
	for i := range incidentLimit + 5 {
		inc := resolvedIncident()
		inc.ID = "old" + strings.Repeat("0", 4) + string(rune('a'+i/26)) + string(rune('a'+i%26))
		inc.CreatedAt = inc.CreatedAt.Add(-time.Duration(i) * time.Minute)
		ids = append(ids, inc.ID)
		in.State.Incidents = append(in.State.Incidents, inc)
	}
	open := incidentState().Incidents[0]
	open.CreatedAt = t0.Add(-100 * 24 * time.Hour) // the oldest, yet open
	in.State.Incidents = append(in.State.Incidents, open)
	snap := mustBuild(t, in)
	pages := 0
	for _, p := range snap.Paths() {
		if strings.HasPrefix(p, pathIncidentPrefix) {
			pages++
		}
	}
	if want := incidentLimit + 1; pages != want {
		t.Errorf("%d incident pages, want %d", pages, want)
	}
	for id, want := range map[string]bool{"oldincident01": true, ids[0]: true, ids[len(ids)-1]: false, "openincident": true} {
		if _, _, ok := snap.Body(pathIncidentPrefix + id); ok != want {
			t.Errorf("page of %s: %v, want %v", id, ok, want)
		}
	}
}

// TestIncidentPageTimeline: the page has every update with its status,
// body, time to the second and what it changed; the components with the
// worst status each reached; the impact and the duration.
func TestIncidentPageTimeline(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	in.State.Incidents = append(in.State.Incidents, burstIncident())
	snap := mustBuild(t, in)
	data, _, ok := snap.Body(pathIncidentPrefix + "burst0000001")
	if !ok {
		t.Fatal("no page for burst0000001")
	}
	html := string(data)
	wantInOrder(t, html, []string{
		"<title>Web App flapping · Acme Status</title>",
		`<h2>Web App flapping</h2>`,
		`<dd class="status">resolved</dd>`, `<dd>major</dd>`,
		`<time datetime="2026-11-21T08:13:48.700Z">Nov 21, 2026 08:13:48 UTC</time>`,
		`<time datetime="2026-11-21T08:18:00.200Z">Nov 21, 2026 08:18:00 UTC</time>`,
		`<dd class="duration">lasted 4 min 12 s</dd>`,
		`<li data-component="web-app" data-status="major_outage">Web App: <span class="st major_outage">major outage</span> at worst</li>`,
		// Newest first, each to the second.
		`<b>resolved</b> <time class="meta" datetime="2026-11-21T08:18:00.200Z">Nov 21, 2026 08:18:00 UTC</time><p class="body">Resolved</p>`,
		`<b>monitoring</b> <time class="meta" datetime="2026-11-21T08:17:58.000Z">Nov 21, 2026 08:17:58 UTC</time><p class="body">Recovered</p>`,
		`<li>Web App: partial outage → operational</li>`,
		`Nov 21, 2026 08:17:44 UTC</time><p class="body">Down again</p>`,
		`Nov 21, 2026 08:17:31 UTC</time><p class="body">Rolled back</p>`,
		`Nov 21, 2026 08:17:15 UTC</time><p class="body">A bad deploy</p>`,
		`Nov 21, 2026 08:17:03 UTC</time><p class="body">Web App is down</p>`,
		`<li>Web App: operational → major outage</li>`,
	})
	if strings.Contains(html, `id="banner"`) || strings.Contains(html, "http-equiv") {
		t.Error("an incident page shows the live banner or refreshes itself: it would change with every state")
	}
}

// wantInOrder fails unless every string is in s, in this order.
func wantInOrder(t *testing.T, s string, wants []string) {
	t.Helper()
	rest := s
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("lacks %q (in order) after what came before; page:\n%s", w, s)
		}
		rest = rest[i+len(w):]
	}
}

// TestUpdateTimesToTheSecond: five updates within one minute read apart on
// every page that shows them, in the page's time zone.
func TestUpdateTimesToTheSecond(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ zone, suffix, hour string }{
		{"UTC", "UTC", "08"}, {"Europe/Berlin", "CET", "09"}, {"America/New_York", "EST", "03"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			in := scenarios()[0].in
			in.Config = testConfig()
			in.Config.Page.TimeZone = tc.zone
			in.State = operationalState()
			burst := burstIncident()
			burst.Status, burst.ResolvedAt = incident.Monitoring, time.Time{} // open: on the front page's open list
			burst.Updates = burst.Updates[:5]
			in.State.Incidents = append(in.State.Incidents, burst)
			snap := mustBuild(t, in)
			for _, path := range []string{pathPage, pathHistory, pathIncidentPrefix + burst.ID} {
				data, _, _ := snap.Body(path)
				var wants []string
				for _, s := range []string{"58", "44", "31", "15", "03"} {
					wants = append(wants, "Nov 21, 2026 "+tc.hour+":17:"+s+" "+tc.suffix+"</time>")
				}
				t.Run(path, func(t *testing.T) { wantInOrder(t, string(data), wants) })
			}
		})
	}
}

// TestBanner: the banner follows the indicator, but says the service
// recovered, calmly, while every open incident is monitoring and every
// component operational; status.json keeps Statuspage's indicator.
func TestBanner(t *testing.T) {
	t.Parallel()
	identified := monitoringState()
	identified.Incidents[0].Status = incident.Identified
	degraded := monitoringState()
	degraded.Components["web-app"] = incident.ComponentState{Status: detector.DegradedPerformance, UpdatedAt: t0}
	second := monitoringState()
	other := resolvedIncident()
	other.ID, other.Status, other.ResolvedAt = "secondopen", incident.Investigating, time.Time{}
	second.Incidents = append(second.Incidents, other)
	twoMonitoring := monitoringState()
	other2 := other
	other2.Status = incident.Monitoring
	twoMonitoring.Incidents = append(twoMonitoring.Incidents, other2)
	for _, tc := range []struct {
		name                   string
		cfg                    func() *Inputs
		class, text, indicator string
	}{
		{"operational", func() *Inputs { return &Inputs{State: operationalState()} },
			"none", "All Systems Operational", "none"},
		{"outage", func() *Inputs { return &Inputs{State: incidentState()} },
			"critical", "Major Service Outage", "critical"},
		{"recovered, monitoring", func() *Inputs { return &Inputs{State: monitoringState()} },
			"monitoring", "Service Recovered — Monitoring", "critical"},
		{"two incidents monitoring", func() *Inputs { return &Inputs{State: twoMonitoring} },
			"monitoring", "Service Recovered — Monitoring", "critical"},
		{"identified, components operational", func() *Inputs { return &Inputs{State: identified} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring, a component still degraded", func() *Inputs { return &Inputs{State: degraded} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring and another investigating", func() *Inputs { return &Inputs{State: second} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring during maintenance", func() *Inputs {
			return &Inputs{State: monitoringState(), Config: goldenMaintenanceConfig()}
		}, "critical", "Major Service Outage", "critical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.cfg()
			in.Now, in.Epoch = t0, t0.Add(-100*time.Hour)
			if in.Config == nil {
				in.Config = testConfig()
			}
			snap := mustBuild(t, *in)
			var st statusDoc
			data, _, _ := snap.Body(pathStatus)
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			if string(st.Status.Indicator) != tc.indicator {
				t.Errorf("status.json indicator %q, want %q", st.Status.Indicator, tc.indicator)
			}
			for _, path := range []string{pathPage, pathPageStatic, pathHistory} {
				data, _, _ := snap.Body(path)
				m := bannerRE.FindStringSubmatch(string(data))
				if m == nil {
					t.Fatalf("%s: no banner", path)
				}
				if m[1] != tc.class || m[2] != tc.indicator || m[3] != tc.text {
					t.Errorf("%s: banner class %q data-indicator %q text %q; want %q %q %q", path, m[1], m[2], m[3],
						tc.class, tc.indicator, tc.text)
				}
			}
		})
	}
}

var bannerRE = regexp.MustCompile(`<p id="banner" class="banner ([a-z]+)" data-indicator="([a-z]+)" role="status">([^<]+)</p>`)

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-3 * time.Second:                      "0 s",
		0:                                     "0 s",
		900 * time.Millisecond:                "0 s",
		42 * time.Second:                      "42 s",
		time.Minute:                           "1 min",
		4*time.Minute + 12*time.Second:        "4 min 12 s",
		59*time.Minute + 59*time.Second:       "59 min 59 s",
		time.Hour:                             "1 h",
		2*time.Hour + 5*time.Minute + 30e9:    "2 h 5 min",
		26 * time.Hour:                        "1 d 2 h",
		48*time.Hour + 59*time.Minute:         "2 d",
		400*24*time.Hour + 23*time.Hour + 1e9: "400 d 23 h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestIncidentDuration: a resolved incident lasted from its start to its
// resolution as the page shows them, to the second; an open one is ongoing
// for the minutes up to the snapshot's minute.
func TestIncidentDuration(t *testing.T) {
	t.Parallel()
	b := preparedBuilder(t, Inputs{Config: testConfig(), Now: t0.Add(42 * time.Second)}) // 10:00:42
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name string
		in   incident.Incident
		want string
	}{
		{"resolved, by the seconds shown", burstIncident(), "lasted 4 min 12 s"},
		{"resolved within a second", incident.Incident{Status: incident.Resolved, StartedAt: at(100 * time.Millisecond),
			ResolvedAt: at(900 * time.Millisecond)}, "lasted 0 s"},
		{"resolved, no start: created", incident.Incident{Status: incident.Resolved, CreatedAt: at(-time.Hour),
			ResolvedAt: at(-time.Hour + 90*time.Second)}, "lasted 1 min 30 s"},
		{"resolved without a time", incident.Incident{Status: incident.Resolved, StartedAt: at(-time.Hour)}, ""},
		{"open: to the snapshot's minute", incident.Incident{Status: incident.Investigating,
			StartedAt: at(-11*time.Minute - 30*time.Second)}, "ongoing for 11 min"},
		{"monitoring is open", incident.Incident{Status: incident.Monitoring, StartedAt: at(-3 * time.Hour)},
			"ongoing for 3 h"},
		{"open for seconds", incident.Incident{Status: incident.Identified, StartedAt: at(-20 * time.Second)},
			"ongoing for under a minute"},
		{"open, started after the minute began", incident.Incident{Status: incident.Investigating,
			StartedAt: at(10 * time.Second)}, "ongoing for under a minute"},
		{"open, no times", incident.Incident{Status: incident.Investigating}, ""},
	} {
		if got := b.duration(tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDurationsShown: resolved incidents show how long they lasted on the
// front page's past incidents, the history page and their own page.
func TestDurationsShown(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	in.State.Incidents = append(in.State.Incidents, burstIncident())
	snap := mustBuild(t, in)
	for _, path := range []string{pathPage, pathHistory} {
		data, _, _ := snap.Body(path)
		wantInOrder(t, string(data), []string{`data-incident="burst0000001"`, `<span class="duration">lasted 4 min 12 s</span>`,
			`data-incident="oldincident01"`, `<span class="duration">lasted 32 min</span>`})
	}
	data, _, _ := snap.Body(pathIncidentPrefix + "oldincident01")
	wantInOrder(t, string(data), []string{`<dd class="duration">lasted 32 min</dd>`})
}

// TestShortlinksServed: whatever page.url is (none, a host, a host and a
// path, with or without a trailing slash), every shortlink incidents.json
// publishes is the link the pages and feeds use, and the route answers it
// with the incident's timeline. A path in page.url is the prefix a reverse
// proxy strips: the request reaches tocsin without it.
func TestShortlinksServed(t *testing.T) {
	t.Parallel()
	for _, pageURL := range []string{"", "https://status.acme.example", "https://status.acme.example/",
		"https://acme.example/status", "https://acme.example/status/", "http://127.0.0.1:8080/a/b"} {
		t.Run(pageURL, func(t *testing.T) {
			t.Parallel()
			in := scenarios()[1].in
			in.Config = testConfig()
			in.Config.Page.URL = pageURL
			in.State = incidentState()
			in.State.Incidents = append(in.State.Incidents, burstIncident())
			snap := mustBuild(t, in)
			srv := serveHTTP(t, newTestServer(t, ServerOptions{}, &in).Handler())
			var doc struct {
				Incidents []struct {
					ID, Name        string
					Shortlink       *string
					IncidentUpdates []struct {
						Body      string
						CreatedAt string `json:"created_at"`
					} `json:"incident_updates"`
				}
			}
			_, body := fetch(t, "GET", srv.URL+pathIncidents, nil)
			if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Incidents) != 3 {
				t.Fatalf("incidents.json: %v, %d incidents", err, len(doc.Incidents))
			}
			front, _, _ := snap.Body(pathPage)
			atom, _, _ := snap.Body(pathHistoryAtom)
			base, err := url.Parse(pageURL)
			if err != nil {
				t.Fatal(err)
			}
			for _, inc := range doc.Incidents {
				link := pathIncidentPrefix + inc.ID
				if pageURL != "" {
					if inc.Shortlink == nil {
						t.Fatalf("%s: no shortlink", inc.ID)
					}
					link = *inc.Shortlink
				} else if inc.Shortlink != nil {
					t.Errorf("%s: shortlink %q without page.url", inc.ID, *inc.Shortlink)
				}
				if !strings.Contains(string(front), `href="`+link+`"`) || !strings.Contains(string(atom), `href="`+link+`"`) {
					t.Errorf("the page or the Atom feed does not link %s to %s", inc.ID, link)
				}
				u, err := url.Parse(link)
				if err != nil {
					t.Fatal(err)
				}
				path, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(base.Path, "/"))
				if !ok || strings.Contains(u.Path, "//") || u.Host != base.Host {
					t.Fatalf("shortlink %q is not under page.url %q", link, pageURL)
				}
				resp, page := fetch(t, "GET", srv.URL+path, nil)
				if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h2>"+inc.Name+"</h2>") {
					t.Fatalf("GET %s (shortlink %s) = %d %.200q", path, link, resp.StatusCode, page)
				}
				for _, u := range inc.IncidentUpdates {
					if !strings.Contains(page, `datetime="`+u.CreatedAt+`"`) || !strings.Contains(page, u.Body) {
						t.Errorf("%s: the page lacks the update of %s %q", link, u.CreatedAt, u.Body)
					}
				}
			}
		})
	}
}
