package probe

import (
	"testing"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// TestMain fails the package if goroutines outlive the tests.
func TestMain(m *testing.M) { probetest.Main(m) }

// mustHTTP builds a prober or fails the test.
func mustHTTP(t *testing.T, c config.HTTPCheck, opts Options) *HTTP {
	t.Helper()
	h, err := NewHTTP(c, opts)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return h
}

// hasPhase reports whether r has a phase called name.
func hasPhase(r Result, name string) bool {
	for _, p := range r.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}

// boolPtr returns &b.
func boolPtr(b bool) *bool { return &b }
