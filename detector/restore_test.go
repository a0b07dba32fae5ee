package detector

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRestoreContinues: a detector given another's published check state
// (Check, as Checks returns it) continues exactly as the other would have,
// result for result, flapping included; Reset forgets a check.
func TestRestoreContinues(t *testing.T) {
	t.Parallel()
	spec := Spec{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: 3, SuccessThreshold: 2}
	tests := []struct{ name, before, after string }{
		{"mid failure run", "uuDD", "DuuDDD"},
		{"down, recovering", "uDDDu", "uDDu"},
		{"flapping", "uDuDuDuDuDuD", "uDuDuuuuuuuuuuuuuuuuuu"},
		{"held after a relapse", "uuDDDuuDD", "uuDDuu" + strings.Repeat("u", 21)},
		{"relapse straddling the handover", "uuDDDuuD", "DuuuDDD" + strings.Repeat("u", 21)},
		{"degraded", "uddd", "Duddu"},
		{"nothing yet", "", "DDDu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := New(), New()
			a.Configure([]Spec{spec})
			b.Configure([]Spec{spec})
			rs := seq(tt.before + tt.after)
			for i, r := range rs[:len(tt.before)] {
				a.Observe("c", r, t0.Add(timeStep(i)))
			}
			c, _ := a.Check("c")
			if !b.Restore(c) {
				t.Fatal("Restore refused a check of the same component")
			}
			for i, r := range rs[len(tt.before):] {
				at := t0.Add(timeStep(len(tt.before) + i))
				ca, okA := a.Observe("c", r, at)
				cb, okB := b.Observe("c", r, at)
				if okA != okB || ca != cb {
					t.Fatalf("result %d: original %v %+v, restored %v %+v", i, okA, ca, okB, cb)
				}
			}
			sa, _ := a.Check("c")
			sb, _ := b.Check("c")
			if !reflect.DeepEqual(sa, sb) {
				t.Errorf("after the same results:\noriginal %+v\nrestored %+v", sa, sb)
			}
			if va, vb := a.Component("web"), b.Component("web"); !reflect.DeepEqual(va, vb) {
				t.Errorf("verdicts differ: %+v vs %+v", va, vb)
			}
			b.Reset("c")
			if c, _ := b.Check("c"); c.Status != Unknown || len(c.Recent) != 0 || c.Runs != (Runs{}) {
				t.Errorf("after Reset: %+v", c)
			}
		})
	}
}

func TestRestoreRefusesAnotherComponent(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web"}})
	if d.Restore(Check{Spec: Spec{Name: "c", Component: "api"}, Status: Down}) {
		t.Error("a check that moved to another component took the old one's state")
	}
	if d.Restore(Check{Spec: Spec{Name: "gone", Component: "web"}, Status: Down}) {
		t.Error("an unknown check was restored")
	}
}

func timeStep(i int) time.Duration { return time.Duration(i) * time.Second }
