package config

import (
	"slices"
	"strings"
	"testing"
)

// TestLoadVantages: what Load resolves for valid-vantages.yml: each
// component's vantages, quorum and regional from itself or defaults, and
// each check's vantages from itself, its component or defaults, none for
// a heartbeat check.
func TestLoadVantages(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: "testdata/valid-vantages.yml"})
	all := []string{"eu-west", "us-east", "ap-south"}
	if !slices.Equal(cfg.Vantages, all) || cfg.Scheduler.Vantage != "eu-west" || cfg.VantageError() != nil {
		t.Fatalf("vantages %v, scheduler.vantage %q, VantageError %v", cfg.Vantages, cfg.Scheduler.Vantage, cfg.VantageError())
	}
	probing := cfg.ProbingVantages()
	for i, want := range []struct {
		id       string
		vantages []string
		quorum   int
		regional string
		probing  []string // ProbingVantages
	}{
		{"web", nil, 0, "ignore", all},
		{"api", []string{"eu-west", "us-east"}, 1, "ignore", []string{"eu-west", "us-east"}},
		{"mail", nil, 2, "degraded", all},
	} {
		c := cfg.Components[i]
		if c.ID != want.id || !slices.Equal(c.Vantages, want.vantages) || c.Quorum != want.quorum || c.Regional != want.regional {
			t.Errorf("components[%d] = %s %v quorum %d regional %q; want %s %v %d %q",
				i, c.ID, c.Vantages, c.Quorum, c.Regional, want.id, want.vantages, want.quorum, want.regional)
		}
		if got := probing[c.ID]; !slices.Equal(got, want.probing) {
			t.Errorf("ProbingVantages()[%s] = %v, want %v", c.ID, got, want.probing)
		}
	}
	for i, want := range []struct {
		name         string
		own, probing []string // Check.Vantages, VantagesOf
	}{
		{"web-home", nil, all},
		{"web-login", []string{"ap-south"}, []string{"ap-south"}},
		{"api-status", []string{"eu-west", "us-east"}, []string{"eu-west", "us-east"}},
		{"api-search", []string{"eu-west", "us-east"}, []string{"eu-west", "us-east"}},
		{"mail-inbound", nil, all},
		{"mail-worker", nil, nil},
	} {
		ch := cfg.Checks[i]
		if ch.Name != want.name || !slices.Equal(ch.Vantages, want.own) {
			t.Errorf("checks[%d] = %s vantages %v, want %s %v", i, ch.Name, ch.Vantages, want.name, want.own)
		}
		if got := cfg.VantagesOf(ch); !slices.Equal(got, want.probing) {
			t.Errorf("VantagesOf(%s) = %v, want %v", ch.Name, got, want.probing)
		}
	}
}

// TestVantage: scheduler.vantage from the file, from TOCSIN_VANTAGE (a
// pod's own setting, without "__") and from --vantage, in that order of
// precedence; it must be one of the declared vantages.
func TestVantage(t *testing.T) {
	t.Parallel()
	const declared = "vantages: [eu-west, us-east]\n"
	runOverrideCases(t, "vantage", "scheduler.vantage", func(c *Config) string { return c.Scheduler.Vantage }, []overrideCase{
		{"unset", declared, nil, "", "", ""},
		{"file", declared + "scheduler: {vantage: eu-west}\n", nil, "", "eu-west", ""},
		{"env over file", declared + "scheduler: {vantage: eu-west}\n", []string{"TOCSIN_VANTAGE=us-east"}, "", "us-east", ""},
		{"nested env name too", declared, []string{"TOCSIN_SCHEDULER__VANTAGE=us-east"}, "", "us-east", ""},
		{"flag over env", declared, []string{"TOCSIN_VANTAGE=us-east"}, "eu-west", "eu-west", ""},
		{"not declared", declared, []string{"TOCSIN_VANTAGE=us-est"}, "", "",
			`scheduler.vantage: "us-est" is not a declared vantage (declared: eu-west, us-east); did you mean "us-east"?`},
		{"none declared", "", nil, "eu-west", "", "scheduler.vantage: set, but no vantages are declared"},
	})
}

// TestVantageRules: the rules between the vantage keys, on small configs:
// what is valid, and what is reported where (once, where it was written).
func TestVantageRules(t *testing.T) {
	t.Parallel()
	const three = "vantages: [eu-west, us-east, ap-south]\n"
	const web = "components: [{id: web, name: Web}]\n" +
		"checks: [{name: web-home, component: web, type: http, http: {url: https://example.com/}}]\n"
	for _, tc := range []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"no vantages: majority and 1", "defaults: {quorum: 1}\n" + web, nil, ""},
		{"quorum as many as probe", three + "defaults: {quorum: 3}\n" + web, nil, ""},
		{"quorum in defaults.vantages", three + "defaults: {quorum: 3, vantages: [eu-west, us-east]}\n" + web, nil,
			"defaults.quorum: 3 is more than the 2 vantages in defaults.vantages"},
		{"quorum in defaults.vantages of one", three + "defaults: {quorum: 2, vantages: [eu-west]}\n" + web, nil,
			"defaults.quorum: 2 is more than the 1 vantage in defaults.vantages"},
		{"a component's own list makes room", three + "defaults: {quorum: 3, vantages: [eu-west, us-east]}\n" +
			"components: [{id: web, name: Web, vantages: [eu-west, us-east, ap-south]}]\n", nil,
			"defaults.quorum: 3 is more than the 2 vantages in defaults.vantages"},
		{"explicit empty list is all", three + "defaults: {vantages: []}\n" +
			"components: [{id: web, name: Web, vantages: [], quorum: 3}]\n", nil, ""},
		{"a bad list written twice is reported once", three +
			"components: [{id: web, name: Web, vantages: [mars]}]\n" +
			"checks: [{name: a, component: web, type: tcp, vantages: [mars], tcp: {address: 'a:1'}}]\n", nil,
			`components[0].vantages[0]: "mars" is not a declared vantage (declared: eu-west, us-east, ap-south)`},
		{"check of an unknown component", three + "defaults: {vantages: [eu-west]}\n" +
			"checks: [{name: a, component: nope, type: tcp, vantages: [eu-wst], tcp: {address: 'a:1'}}]\n", nil,
			"checks[0].component: unknown component \"nope\"\n" +
				`checks[0].vantages[0]: "eu-wst" is not a declared vantage (declared: eu-west, us-east, ap-south); did you mean "eu-west"?`},
		{"heartbeat under a component with vantages", three + "components: [{id: jobs, name: Jobs, vantages: [eu-west], quorum: 1}]\n" +
			"checks: [{name: b, component: jobs, type: heartbeat, heartbeat: {period: 1h}}]\n", nil, ""},
		{"env", three + web, []string{"TOCSIN_DEFAULTS__QUORUM=2", "TOCSIN_DEFAULTS__VANTAGES=eu-west, us-east", "TOCSIN_DEFAULTS__REGIONAL=degraded"}, ""},
		{"env majority", three + "defaults: {quorum: 2}\n" + web, []string{"TOCSIN_DEFAULTS__QUORUM=majority"}, ""},
		{"env bad quorum", three + web, []string{"TOCSIN_DEFAULTS__QUORUM=most"},
			`env TOCSIN_DEFAULTS__QUORUM: invalid quorum "most" (want majority or a whole number of at least 1)`},
		{"env quorum too large", three + web, []string{"TOCSIN_DEFAULTS__QUORUM=4"}, "defaults.quorum: 4 is more than the 3 declared vantages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeConfig(t, tc.yaml), Env: tc.env})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Load: %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestVantageEnvValues: the env values of the rules above land as written.
func TestVantageEnvValues(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{
		File: writeConfig(t, "vantages: [eu-west, us-east, ap-south]\ncomponents: [{id: web, name: Web}]\n"),
		Env:  []string{"TOCSIN_DEFAULTS__QUORUM=2", "TOCSIN_DEFAULTS__VANTAGES=eu-west, us-east", "TOCSIN_DEFAULTS__REGIONAL=degraded"},
	})
	d, c := cfg.Defaults, cfg.Components[0]
	if d.Quorum != 2 || !slices.Equal(d.Vantages, []string{"eu-west", "us-east"}) || d.Regional != "degraded" {
		t.Errorf("defaults = %+v", d)
	}
	if c.Quorum != 2 || !slices.Equal(c.Vantages, d.Vantages) || c.Regional != "degraded" {
		t.Errorf("component = %+v, want the defaults'", c)
	}
}

func TestVantagesOf(t *testing.T) {
	t.Parallel()
	declared := []string{"eu-west", "us-east", "ap-south"}
	for _, tc := range []struct {
		name     string
		declared []string
		ch       Check
		want     []string
	}{
		{"none declared", nil, Check{Type: "http"}, nil},
		{"none declared, a list anyway", nil, Check{Type: "http", Vantages: []string{"eu-west"}}, nil},
		{"all", declared, Check{Type: "http"}, declared},
		{"its own", declared, Check{Type: "tcp", Vantages: []string{"us-east", "eu-west"}}, []string{"us-east", "eu-west"}},
		{"heartbeat", declared, Check{Type: "heartbeat"}, nil},
	} {
		cfg := &Config{Vantages: tc.declared}
		if got := cfg.VantagesOf(tc.ch); !slices.Equal(got, tc.want) {
			t.Errorf("%s: VantagesOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProbingVantages(t *testing.T) {
	t.Parallel()
	declared := []string{"eu-west", "us-east", "ap-south"}
	checks := []Check{
		{Component: "api", Type: "http", Vantages: []string{"ap-south"}},
		{Component: "api", Type: "tcp", Vantages: []string{"eu-west", "ap-south"}},
		{Component: "api", Type: "heartbeat"},
		{Component: "web", Type: "http"},
		{Component: "jobs", Type: "heartbeat"},
	}
	comps := []Component{{ID: "api"}, {ID: "web"}, {ID: "jobs"}}
	cfg := &Config{Vantages: declared, Checks: checks, Components: comps}
	got := cfg.ProbingVantages()
	for id, want := range map[string][]string{
		"api":  {"eu-west", "ap-south"}, // declared order, heartbeat aside
		"web":  declared,
		"jobs": declared, // heartbeats only: judged alike from everywhere
	} {
		if !slices.Equal(got[id], want) {
			t.Errorf("ProbingVantages()[%q] = %v, want %v", id, got[id], want)
		}
	}
	if cfg.Probes("us-east", checks[0]) || !cfg.Probes("ap-south", checks[0]) || !cfg.Probes("us-east", checks[2]) {
		t.Error("Probes: wrong for a check of one vantage or a heartbeat")
	}
	none := &Config{Checks: checks, Components: comps}
	if none.ProbingVantages() != nil || !none.Probes("", checks[0]) {
		t.Error("without vantages: want no map and every check probed")
	}
}

func TestQuorumOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ q, live, want int }{
		{0, 1, 1}, {0, 2, 2}, {0, 3, 2}, {0, 4, 3}, {0, 5, 3},
		{1, 3, 1}, {2, 3, 2}, {3, 3, 3},
		{3, 2, 2}, // capped at the live vantages
		{2, 1, 1}, // a lone survivor can still page
		{0, 0, 1}, {2, 0, 1}, {0, -1, 1},
	} {
		if got := QuorumOf(tc.q, tc.live); got != tc.want {
			t.Errorf("QuorumOf(%d, %d) = %d, want %d", tc.q, tc.live, got, tc.want)
		}
	}
}

func TestVantageError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		declared []string
		vantage  string
		want     string
	}{
		{"no vantages", nil, "", ""},
		{"set", []string{"eu-west", "us-east"}, "eu-west", ""},
		{"missing", []string{"eu-west", "us-east"}, "",
			"scheduler.vantage: required, since vantages are declared (eu-west, us-east): set TOCSIN_VANTAGE or --vantage to this replica's"},
		// Validate's problem, not this one's.
		{"undeclared", nil, "eu-west", ""},
	} {
		cfg := &Config{Vantages: tc.declared, Scheduler: Scheduler{Vantage: tc.vantage}}
		got := ""
		if err := cfg.VantageError(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: VantageError = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestValidateAcceptsNoVantage: tocsin validate loads the fleet's config
// without a vantage of its own, so Load does not require one.
func TestValidateAcceptsNoVantage(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: writeConfig(t, "vantages: [eu-west, us-east]\n")})
	if err := cfg.VantageError(); err == nil || !strings.HasPrefix(err.Error(), "scheduler.vantage: required") {
		t.Errorf("VantageError = %v, want the daemon's problem", err)
	}
}
