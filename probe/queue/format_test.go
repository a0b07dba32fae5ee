package queue

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

func TestFormatQueue(t *testing.T) {
	t.Parallel()
	dur := func(d time.Duration) *time.Duration { return &d }
	rate := func(r float64) *float64 { return &r }
	n := func(v int) *int { return &v }
	sidekiq := map[string]float64{"retry": 3, "dead": 0}
	tests := []struct {
		name string
		s    probe.QueueStats
		want string
	}{
		{"issue example", probe.QueueStats{Depth: 12400, OldestAge: dur(4*time.Minute + 10*time.Second + 300*time.Millisecond),
			RatePerSecond: rate(-350), DrainETA: dur(35428 * time.Millisecond), Extra: sidekiq},
			"mailers: 12,400 jobs, oldest 4m10s, draining at 350/s, about 35s to drain"},
		{"growing", probe.QueueStats{Depth: 12400, OldestAge: dur(250 * time.Second), RatePerSecond: rate(120), Extra: sidekiq},
			"mailers: 12,400 jobs, oldest 4m10s, growing at 120/s"},
		{"no consumers", probe.QueueStats{Depth: 0, RatePerSecond: rate(0), Consumers: n(0), Extra: map[string]float64{"unacked": 0}},
			"mailers: 0 messages, steady, 0 consumers"},
		{"one of each", probe.QueueStats{Depth: 1, Consumers: n(1)}, "mailers: 1 item, 1 consumer"},
		{"first sample", probe.QueueStats{Depth: 1234567}, "mailers: 1,234,567 items"},
		{"empty", probe.QueueStats{Depth: 0, OldestAge: dur(0), Extra: sidekiq}, "mailers: 0 jobs"},
		{"fraction", probe.QueueStats{Depth: 12.46}, "mailers: 12.5 items"},
		{"slow growth", probe.QueueStats{Depth: 40, RatePerSecond: rate(0.2)}, "mailers: 40 items, growing at 12/min"},
		{"very slow drain", probe.QueueStats{Depth: 40, RatePerSecond: rate(-0.0005), DrainETA: dur(80000 * time.Second)},
			"mailers: 40 items, draining at 1.8/h, about 22h10m to drain"},
		{"rounds to steady", probe.QueueStats{Depth: 40, RatePerSecond: rate(1e-7)}, "mailers: 40 items, steady"},
		{"drained", probe.QueueStats{Depth: 0, RatePerSecond: rate(-2.5)}, "mailers: 0 items, draining at 2.5/s"},
		{"eta under a second", probe.QueueStats{Depth: 45, RatePerSecond: rate(-135), DrainETA: dur(333 * time.Millisecond)},
			"mailers: 45 items, draining at 135/s, about 1s to drain"},
		{"eta minutes", probe.QueueStats{Depth: 9000, RatePerSecond: rate(-20), DrainETA: dur(450 * time.Second)},
			"mailers: 9,000 items, draining at 20/s, about 7m30s to drain"},
		{"eta an hour", probe.QueueStats{Depth: 9000, RatePerSecond: rate(-2), DrainETA: dur(4500 * time.Second)},
			"mailers: 9,000 items, draining at 2/s, about 1h20m to drain"},
	}
	for _, tt := range tests {
		if got := Format("mailers", tt.s); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 12400: "12,400", 1234567: "1,234,567",
		-4500: "-4,500", 0.04: "0", 2.5: "2.5", 1999.96: "2,000",
	} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%v) = %q, want %q", in, got, want)
		}
	}
}
