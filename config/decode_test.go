package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestDecodeInChunks: a large list of checks decodes in chunks to what it
// decodes to whole, and an error in one check still names its index.
func TestDecodeInChunks(t *testing.T) {
	t.Parallel()
	raw := func(bad int) map[string]any {
		checks := make([]any, 3000)
		for i := range checks {
			c := map[string]any{"name": fmt.Sprintf("k%d", i), "component": "c", "type": "http",
				"http": map[string]any{"url": fmt.Sprintf("http://127.0.0.1/%d", i)}}
			if i == bad {
				c["timeout"] = map[string]any{"not": "a duration"}
			}
			checks[i] = c
		}
		return map[string]any{"checks": checks, "components": []any{map[string]any{"id": "c", "name": "C"}}}
	}
	cfg, err := decode(raw(-1))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := decodeWhole(raw(-1))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 3000 || cfg.Checks[2999].Name != "k2999" || cfg.Checks[2999].HTTP.URL != whole.Checks[2999].HTTP.URL ||
		len(cfg.Components) != 1 {
		t.Errorf("chunked decode: %d checks, last %+v", len(cfg.Checks), cfg.Checks[len(cfg.Checks)-1])
	}
	if _, err := decode(raw(2500)); err == nil || !strings.Contains(err.Error(), "checks[2500]") {
		t.Errorf("error of check 2500: %v", err)
	}
}
