package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// byMapstructure decodes raw as the loader did before assign.go, as koanf's
// UnmarshalWithConf would: the oracle the assigner is held to.
func byMapstructure(raw map[string]any) (*Config, error) {
	var cfg Config
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToTimeHookFunc(time.RFC3339),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		Result:  &cfg,
		TagName: "koanf",
	})
	if err != nil {
		return nil, err
	}
	return &cfg, d.Decode(raw)
}

// sameAsMapstructure walks the config opts names and fails t unless the
// assigner decodes it exactly as mapstructure does.
func sameAsMapstructure(t *testing.T, opts LoadOptions) {
	t.Helper()
	l := &loader{opts: opts, env: environMap(opts.Env), base: filepath.Dir(opts.File)}
	raw, w, err := l.walked()
	if err != nil {
		return // unreadable or unparsable: nothing to decode
	}
	want, werr := byMapstructure(raw)
	got, gerr := w.decode(raw)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("mapstructure: %v; assign: %v", werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("assign decodes differently:\n got %+v\nwant %+v", got, want)
	}
}

// TestAssignAsMapstructure: every config in testdata, valid or not,
// decodes as it did through mapstructure.
func TestAssignAsMapstructure(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(files) < 20 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			sameAsMapstructure(t, LoadOptions{File: file, Env: fullEnv})
		})
	}
}

// TestAssignErrorNamesPath: a value of a shape the walker never leaves is
// an error with its key path, not a panic or a silent zero.
func TestAssignErrorNamesPath(t *testing.T) {
	t.Parallel()
	checks := make([]any, 3)
	for i := range checks {
		checks[i] = map[string]any{"name": fmt.Sprintf("k%d", i), "timeout": 5 * time.Second,
			"http": map[string]any{"headers": map[string]any{"X-A": "b"}}}
	}
	checks[2].(map[string]any)["http"].(map[string]any)["headers"] = map[string]any{"X-A": int64(1)}
	w := walker{fields: map[reflect.Type]map[string]field{}}
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"checks": checks}, "checks[2].http.headers.X-A: cannot decode int64 as config.Secret"},
		{map[string]any{"checks": []any{map[string]any{"timeout": "5s"}}}, "checks[0].timeout: cannot decode string as time.Duration"},
		{map[string]any{"checks": []any{map[string]any{"nope": true}}}, "checks[0].nope: unknown key"},
		{map[string]any{"checks": map[string]any{}}, "checks: cannot decode map[string]interface {} as []config.Check"},
	} {
		_, err := w.decode(tc.raw)
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("decode: %v, want …%s", err, tc.want)
		}
	}
}
