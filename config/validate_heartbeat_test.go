package config

import (
	"fmt"
	"testing"
	"time"
)

// TestHeartbeatDefaults: grace defaults to half the period (at most 1h), the
// interval is clamped to the grace (not below 1s) and the timeout kept under
// half the clamped interval; values set shorter stay.
func TestHeartbeatDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		block                    string // the heartbeat mapping
		timing                   string // extra check keys
		grace, interval, timeout time.Duration
	}{
		{"spec example", "{period: 1m, grace: 30s}", "", 30 * time.Second, 30 * time.Second, 10 * time.Second},
		{"default grace", "{period: 1m}", "", 30 * time.Second, 30 * time.Second, 10 * time.Second},
		{"daily job", "{period: 24h}", "", time.Hour, 30 * time.Second, 10 * time.Second},
		{"short grace clamps", "{period: 20s}", "", 10 * time.Second, 10 * time.Second, 5 * time.Second},
		{"tiny grace clamps to 1s", "{period: 1s, grace: 100ms}", "", 100 * time.Millisecond, time.Second, 500 * time.Millisecond},
		{"shorter interval stays", "{period: 20s}", "interval: 2s\n    timeout: 1s\n    ", 10 * time.Second, 2 * time.Second, time.Second},
		{"short timeout stays", "{period: 20s}", "timeout: 1s\n    ", 10 * time.Second, 10 * time.Second, time.Second},
		{"long interval clamps", "{period: 10m, grace: 1m}", "interval: 5m\n    timeout: 2m\n    ", time.Minute, time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := fmt.Sprintf("components: [{id: jobs, name: Jobs}]\nchecks:\n  - name: worker\n    component: jobs\n"+
				"    type: heartbeat\n    %sheartbeat: %s\n", tt.timing, tt.block)
			cfg := mustLoad(t, LoadOptions{File: writeConfig(t, yaml)})
			ch := cfg.Checks[0]
			if ch.Heartbeat.Grace != tt.grace || ch.Interval != tt.interval || ch.Timeout != tt.timeout {
				t.Errorf("grace %s, interval %s, timeout %s; want %s, %s, %s",
					ch.Heartbeat.Grace, ch.Interval, ch.Timeout, tt.grace, tt.interval, tt.timeout)
			}
		})
	}
}
