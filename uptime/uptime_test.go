package uptime

import (
	"testing"

	"github.com/tocsin/tocsin/detector"
)

// TestStatusMillisCoversEveryStatus: every component status has its own
// slot, and the slots run best first, as Worst relies on.
func TestStatusMillisCoversEveryStatus(t *testing.T) {
	t.Parallel()
	if len(detector.ComponentStatuses()) != statusCount {
		t.Fatalf("%d statuses, %d slots", len(detector.ComponentStatuses()), statusCount)
	}
	for i, s := range detector.ComponentStatuses() {
		if s.Rank() != i {
			t.Errorf("%s has rank %d at position %d", s, s.Rank(), i)
		}
		var m StatusMillis
		m.Set(s, 1)
		if m.Of(s) != 1 || (ComponentDay{Millis: m}).Worst() != s {
			t.Errorf("%s: set %v, worst %q", s, m, ComponentDay{Millis: m}.Worst())
		}
	}
	var m StatusMillis
	m.Set("bogus", 5)
	if m != (StatusMillis{}) || m.Of("bogus") != 0 {
		t.Errorf("an unknown status was recorded: %v", m)
	}
}
