package probes

import (
	"strings"
	"testing"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// TestNewMissingBlock: a check whose type's block is missing, or whose
// type is unknown, is an error naming the key, never a prober.
func TestNewMissingBlock(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"http", "smtp", "tcp", "queue", "heartbeat"} {
		p, err := New(config.Check{Name: "x", Type: typ}, probe.Options{})
		if p != nil || err == nil || err.Error() != typ+": missing "+typ+" block" {
			t.Errorf("type %s without its block: %v, %v", typ, p, err)
		}
	}
	if p, err := New(config.Check{Name: "x", Type: "ftp"}, probe.Options{}); p != nil || err == nil ||
		!strings.HasPrefix(err.Error(), "type: ") {
		t.Errorf("unknown type: %v, %v", p, err)
	}
}
