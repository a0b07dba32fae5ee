package config

import (
	"testing"
	"time"
)

// TestInspect: with the problems of both stages, Inspect returns what it
// could read, rejected values left at their defaults; Load returns no config.
func TestInspect(t *testing.T) {
	t.Parallel()
	const file = "testdata/invalid-multiple-stages.yml"
	cfg, err := Inspect(LoadOptions{File: file})
	if err == nil || cfg == nil {
		t.Fatalf("Inspect = %v, %v; want a config and an error", cfg, err)
	}
	if len(cfg.Checks) != 2 || cfg.Checks[1].Name != "api" || cfg.Checks[1].Timeout != 10*time.Second {
		t.Errorf("checks = %+v, want web-home and api, api with the default timeout", cfg.Checks)
	}
	if got, err := Load(LoadOptions{File: file}); got != nil || err == nil {
		t.Errorf("Load = %v, %v; want no config and an error", got, err)
	}
	if got, err := Inspect(LoadOptions{File: "testdata/invalid-yaml.yml"}); got != nil || err == nil {
		t.Errorf("Inspect of unparsable YAML = %v, %v; want no config and an error", got, err)
	}
}

func TestUnder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, prefix string
		want         bool
	}{
		{"checks[0]", "checks[0]", true},
		{"checks[0].http.url", "checks[0]", true},
		{"checks[0].http.headers[1]", "checks[0].http.headers", true},
		{"checks[01].name", "checks[0]", false},
		{"checks[0]x", "checks[0]", false},
		{"checks[1].name", "checks[0]", false},
		{"server.listen", "server.list", false},
		{"server.listen", "", false},
	} {
		if got := under(tc.path, tc.prefix); got != tc.want {
			t.Errorf("under(%q, %q) = %v, want %v", tc.path, tc.prefix, got, tc.want)
		}
	}
}
