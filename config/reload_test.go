package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReload: a reload to a config without checks is refused while
// the running one has checks, unless the new file opts in; the opt-in
// cannot come from the environment, where it would outlive the file.
func TestCheckReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := map[string]string{
		"running":    "testdata/valid-minimal.yml",
		"empty":      write("empty.yml", ""),
		"truncated":  write("truncated.yml", "components:\n  - id: web\n    name: Web\n"),
		"no checks":  write("none.yml", "components: [{id: web, name: Web}]\nchecks: []\n"),
		"opted in":   write("optin.yml", "reload: {allow_no_checks: true}\n"),
		"opt-in off": write("optoff.yml", "reload: {allow_no_checks: false}\n"),
	}
	load := func(t *testing.T, name string) *Config {
		t.Helper()
		cfg, err := Load(LoadOptions{File: files[name]})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return cfg
	}
	for _, tc := range []struct {
		old, next string
		refused   bool
	}{
		{"running", "empty", true},
		{"running", "truncated", true},
		{"running", "no checks", true},
		{"running", "opt-in off", true},
		{"running", "opted in", false},
		{"running", "running", false},
		{"empty", "empty", false},   // nothing is running to lose
		{"empty", "running", false}, // checks added
		{"opted in", "no checks", false},
	} {
		t.Run(tc.old+" to "+tc.next, func(t *testing.T) {
			t.Parallel()
			err := CheckReload(load(t, tc.old), load(t, tc.next))
			if got := errors.Is(err, ErrReloadRefused); got != tc.refused {
				t.Fatalf("CheckReload = %v, want refused %v", err, tc.refused)
			}
			if tc.refused && !strings.Contains(err.Error(), "reload.allow_no_checks: true") {
				t.Errorf("the refusal does not say how to override it: %v", err)
			}
		})
	}

	_, err := Load(LoadOptions{File: files["empty"], Env: []string{"TOCSIN_RELOAD__ALLOW_NO_CHECKS=true"}})
	if want := "env TOCSIN_RELOAD__ALLOW_NO_CHECKS: " + fileOnlyAllowNoChecks; err == nil || err.Error() != want {
		t.Errorf("opt-in from the environment: %v, want %s", err, want)
	}
}
