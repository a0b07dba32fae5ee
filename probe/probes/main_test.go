package probes

import (
	"testing"

	"github.com/tocsin/tocsin/internal/probetest"
)

// TestMain fails the package if goroutines outlive the tests.
func TestMain(m *testing.M) { probetest.Main(m) }
