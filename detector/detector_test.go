package detector

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tocsin/tocsin/probe"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// seq turns "uudD" into results: u=up, d=degraded, D=down, one second apart.
func seq(s string) []probe.Result {
	out := make([]probe.Result, 0, len(s))
	for i, c := range s {
		st := map[rune]probe.Status{'u': probe.StatusUp, 'd': probe.StatusDegraded, 'D': probe.StatusDown}[c]
		out = append(out, probe.Result{Status: st, Start: t0.Add(time.Duration(i) * time.Second)})
	}
	return out
}

func TestObserveThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		f, s    int
		results string
		want    string // confirmed state after each result: U=unknown u d D
	}{
		{"starts up on first good result", 3, 2, "uu", "uu"},
		{"starts unknown while failing below threshold", 3, 2, "DD", "UU"},
		{"down after three downs", 3, 2, "uDDD", "uuuD"},
		{"a good result resets the failure run", 3, 2, "uDDuDDD", "uuuuuuD"},
		{"degraded after three degraded", 3, 2, "uddd", "uuud"},
		{"mixed bad results give degraded, then down", 3, 2, "udDDD", "uuudD"},
		{"recovery needs success_threshold ups", 3, 2, "DDDuu", "UUDDu"},
		{"one up while down is not recovery", 3, 2, "DDDuD", "UUDDD"},
		{"down improves to degraded after s better results", 3, 2, "DDDdd", "UUDDd"},
		{"degraded worsens to down after f downs", 2, 2, "ddDD", "UddD"},
		{"threshold one reacts at once", 1, 1, "uDdu", "uDdu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := New()
			d.Configure([]Spec{{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: tc.f, SuccessThreshold: tc.s}})
			var got strings.Builder
			for _, r := range seq(tc.results) {
				d.Observe("c", r, r.Start)
				c, _ := d.Check("c")
				got.WriteByte(map[CheckStatus]byte{Unknown: 'U', Up: 'u', Degraded: 'd', Down: 'D'}[c.Status])
			}
			if got.String() != tc.want {
				t.Errorf("states = %s, want %s", got.String(), tc.want)
			}
		})
	}
}

func TestObserveReportsOnlyChanges(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", FailureThreshold: 2, SuccessThreshold: 1}})
	var changes []Change
	for _, r := range seq("uuDDDu") {
		if ch, ok := d.Observe("c", r, r.Start); ok {
			changes = append(changes, ch)
		}
	}
	want := []Change{{Check: "c", From: Unknown, To: Up}, {Check: "c", From: Up, To: Down}, {Check: "c", From: Down, To: Up}}
	if len(changes) != len(want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Errorf("change %d = %v, want %v", i, changes[i], want[i])
		}
	}
	if _, ok := d.Observe("nope", seq("D")[0], t0); ok {
		t.Error("unknown check reported a change")
	}
}

func TestBadSinceIsFirstBadResult(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", FailureThreshold: 3, SuccessThreshold: 1}})
	for _, r := range seq("uudDDD") {
		d.Observe("c", r, r.Start)
	}
	c, _ := d.Check("c")
	if want := t0.Add(2 * time.Second); !c.BadSince.Equal(want) || c.Status != Down {
		t.Errorf("status %s badSince %v, want down since %v", c.Status, c.BadSince, want)
	}
	if v := d.Component("web"); !v.BadSince.Equal(t0.Add(2*time.Second)) || v.Status != MajorOutage {
		t.Errorf("component verdict %+v", v)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", FailureThreshold: 1, SuccessThreshold: 1}})
	for _, r := range seq(strings.Repeat("u", 50) + "DD") {
		d.Observe("c", r, r.Start)
	}
	c, _ := d.Check("c")
	if len(c.Recent) != historySize || c.Streak != 2 || c.Last.Status != probe.StatusDown {
		t.Errorf("recent %d streak %d last %s", len(c.Recent), c.Streak, c.Last.Status)
	}
}

func TestComponentIsWorstOfChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		states    map[string]string // check -> results
		impacts   map[string]ComponentStatus
		want      ComponentStatus
		wantKnown bool
		wantWorst string
	}{
		{"all up", map[string]string{"a": "u", "b": "u"}, nil, Operational, true, ""},
		{"one unknown, rest up: not known", map[string]string{"a": "u", "b": "D"}, nil, Operational, false, ""},
		{"one unknown, one down: known", map[string]string{"a": "DD", "b": "D"}, nil, MajorOutage, true, "a"},
		{"degraded", map[string]string{"a": "dd", "b": "u"}, nil, DegradedPerformance, true, "a"},
		{"down with partial impact", map[string]string{"a": "DD", "b": "u"}, map[string]ComponentStatus{"a": PartialOutage}, PartialOutage, true, "a"},
		{"major beats partial", map[string]string{"a": "DD", "b": "DD"}, map[string]ComponentStatus{"a": PartialOutage, "b": MajorOutage}, MajorOutage, true, "b"},
		{"down beats degraded", map[string]string{"a": "dd", "b": "DD"}, nil, MajorOutage, true, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := New()
			var specs []Spec
			for name := range tc.states {
				imp := tc.impacts[name]
				if imp == "" {
					imp = MajorOutage
				}
				specs = append(specs, Spec{Name: name, Component: "web", Impact: imp, FailureThreshold: 2, SuccessThreshold: 1})
			}
			specs = append(specs, Spec{Name: "other", Component: "api", FailureThreshold: 1})
			d.Configure(specs)
			for name, rs := range tc.states {
				for _, r := range seq(rs) {
					d.Observe(name, r, r.Start)
				}
			}
			d.Observe("other", seq("D")[0], t0)
			v := d.Component("web")
			if v.Status != tc.want || v.Known != tc.wantKnown || v.Worst != tc.wantWorst {
				t.Errorf("verdict = %+v, want %s known=%v worst=%q", v, tc.want, tc.wantKnown, tc.wantWorst)
			}
		})
	}
}

func TestConfigureKeepsStateOfUnchangedChecks(t *testing.T) {
	t.Parallel()
	d := New()
	spec := Spec{Name: "c", Component: "web", FailureThreshold: 1, SuccessThreshold: 1}
	d.Configure([]Spec{spec})
	d.Observe("c", seq("D")[0], t0)
	d.Configure([]Spec{spec, {Name: "new", Component: "web"}})
	if c, _ := d.Check("c"); c.Status != Down {
		t.Errorf("state lost across Configure: %s", c.Status)
	}
	d.Configure(nil)
	if _, ok := d.Check("c"); ok {
		t.Error("removed check still present")
	}
}

func TestVerdictListsFailingChecks(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{
		{Name: "b-queue", Component: "jobs", FailureThreshold: 1, SuccessThreshold: 1},
		{Name: "a-worker", Component: "jobs", FailureThreshold: 1, SuccessThreshold: 1},
		{Name: "c-ok", Component: "jobs", FailureThreshold: 1, SuccessThreshold: 1},
	})
	d.Observe("b-queue", seq("d")[0], t0)
	d.Observe("a-worker", seq("D")[0], t0)
	d.Observe("c-ok", seq("u")[0], t0)
	if got := d.Component("jobs").Detail(); got != "a-worker=down,b-queue=degraded" {
		t.Errorf("detail = %q", got)
	}
}

// TestSampleKeepsWhatItIsFor: a sample gives back the start (in UTC),
// duration, status and reason of its result, for every reason a prober
// gives; a reason it does not know reads as an error.
func TestSampleKeepsWhatItIsFor(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 6, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	for _, st := range []probe.Status{probe.StatusUp, probe.StatusDegraded, probe.StatusDown, ""} {
		for _, reason := range reasons() {
			s := SampleOf(probe.Result{Status: st, Reason: reason, Start: start, Duration: 1500 * time.Millisecond, Message: "x"})
			if !s.Start().Equal(start) || s.Start().Location() != time.UTC || s.Duration() != 1500*time.Millisecond ||
				s.Status() != st || s.Reason() != reason {
				t.Errorf("%s/%s: got %v %v %s %s", st, reason, s.Start(), s.Duration(), s.Status(), s.Reason())
			}
		}
	}
	if got := SampleOf(probe.Result{Status: probe.StatusDown, Reason: "made_up"}).Reason(); got != probe.ReasonError {
		t.Errorf("unknown reason reads %q, want %q", got, probe.ReasonError)
	}
	if got := SampleOf(probe.Result{}).Start(); !got.IsZero() {
		t.Errorf("no start reads %v", got)
	}
	if size := unsafe.Sizeof(Sample{}); size > 24 {
		t.Errorf("a sample is %d bytes, want at most 24", size)
	}
}

// TestSampleKnowsEveryReason: a reason probe adds must be added to
// reasons(), or samples would read it as an error.
func TestSampleKnowsEveryReason(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../probe/probe.go")
	if err != nil {
		t.Fatal(err)
	}
	known := reasons()
	found := regexp.MustCompile(`(?m)^\s*Reason\w*\s+Reason = "(\w*)"`).FindAllStringSubmatch(string(src), -1)
	if len(found) < len(known)-1 {
		t.Fatalf("found %d reasons in probe/probe.go: the pattern is stale", len(found))
	}
	for _, m := range found {
		if !slices.Contains(known[:], probe.Reason(m[1])) {
			t.Errorf("probe reason %q missing from reasons()", m[1])
		}
	}
}
