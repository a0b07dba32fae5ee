package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestSourceAddress: scheduler.source_address from the file, from
// TOCSIN_SOURCE_ADDRESS (a pod's own setting, without "__") and from
// --source-address, in that order of precedence; anything but an IP
// address is refused with its key.
func TestSourceAddress(t *testing.T) {
	t.Parallel()
	runOverrideCases(t, "source-address", "scheduler.source_address",
		func(c *Config) string { return c.Scheduler.SourceAddress }, []overrideCase{
			{"unset", "", nil, "", "", ""},
			{"file", "scheduler: {source_address: 127.0.0.2}\n", nil, "", "127.0.0.2", ""},
			{"IPv6", "scheduler: {source_address: \"::1\"}\n", nil, "", "::1", ""},
			{"env over file", "scheduler: {source_address: 127.0.0.2}\n", []string{"TOCSIN_SOURCE_ADDRESS=127.0.0.3"}, "", "127.0.0.3", ""},
			{"nested env name too", "", []string{"TOCSIN_SCHEDULER__SOURCE_ADDRESS=127.0.0.4"}, "", "127.0.0.4", ""},
			{"flag over env", "", []string{"TOCSIN_SOURCE_ADDRESS=127.0.0.3"}, "127.0.0.5", "127.0.0.5", ""},
			{"host name", "scheduler: {source_address: probe-1.local}\n", nil, "", "",
				`scheduler.source_address: "probe-1.local" is not an IP address`},
			{"bad env", "", []string{"TOCSIN_SOURCE_ADDRESS=10.0.0"}, "", "", `scheduler.source_address: "10.0.0" is not an IP address`},
		})
}

// overrideCase is one way of setting a key a pod sets for itself: in the
// file, its env variable, its flag; want is the value Load gives, err
// (when not empty) what its error holds.
type overrideCase struct {
	name, file string
	env        []string
	flag       string
	want, err  string
}

// runOverrideCases loads each case with flag --flag registered, and checks
// key's value (got) or error, and that an env variable shows in Overrides.
func runOverrideCases(t *testing.T, flag, key string, got func(*Config) string, cases []overrideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Env: tc.env}
			if tc.file != "" {
				opts.File = writeConfig(t, tc.file)
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			RegisterFlags(fs)
			if tc.flag != "" {
				if err := fs.Parse([]string{"--" + flag, tc.flag}); err != nil {
					t.Fatal(err)
				}
			}
			opts.Flags = fs
			cfg, err := Load(opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Load: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got(cfg) != tc.want {
				t.Fatalf("Load: %s %q, %v; want %q", key, got(cfg), err, tc.want)
			}
			if over := Overrides(opts); tc.env != nil && !slices.Contains(over, key) {
				t.Errorf("Overrides = %v: the env variable's key is missing (validate would point into the file)", over)
			}
		})
	}
}
