package main

import (
	"net/http"
	"testing"
	"time"
)

// etag is the ETag p serves at path.
func etag(t *testing.T, p *proc, path string) string {
	t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_ = resp.Body.Close()
	return resp.Header.Get("ETag")
}

// TestFleetSameAnswers (acceptance 7): every replica serves the same
// /api/v1/checks, /api/v2/summary.json, page and uptime document, byte for
// byte (the same ETag), within 2 s of a change: after a probe result
// (checks), after an incident opens (summary), after a new uptime slot
// (the page). Checks run every 3 s here, so that each change
// can be followed to all replicas before the next.
func TestFleetSameAnswers(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"e1"}, []string{"r1", "r2", "r3"}, fleetOptions{interval: 3 * time.Second})
	const within = 2 * time.Second
	var slowest time.Duration
	follow := func(path string, changes int, change func()) {
		t.Helper()
		seen := map[string]bool{}
		for _, p := range f.procs {
			seen[etag(t, p, path)] = true
		}
		change()
		for range changes {
			// Wait for a new body on any replica, then for all to serve it.
			var first string
			var at time.Time
			eventually(t, 30*time.Second, "a change of "+path, func() bool {
				for _, p := range f.procs {
					if e := etag(t, p, path); !seen[e] {
						first, at = e, time.Now()
						return true
					}
				}
				return false
			})
			seen[first] = true
			eventually(t, within+fleetSlack, "every replica serving "+path+" "+first, func() bool {
				for _, p := range f.procs {
					if etag(t, p, path) != first {
						return false
					}
				}
				return true
			})
			took := time.Since(at)
			slowest = max(slowest, took)
			if took > within {
				t.Errorf("%s: the replicas agreed %s after the first showed the change, want within %s", path, took, within)
			}
			// Older bodies are never served again.
			for _, p := range f.procs {
				seen[etag(t, p, path)] = true
			}
		}
	}
	follow("/api/v1/checks", 3, func() {})
	follow("/api/v2/summary.json", 1, func() { f.targets["e1"].set(http.StatusServiceUnavailable) })
	// The page shows the uptime history too, read once per slot of the
	// store's clock and shared: it agrees as well.
	follow("/", 2, func() {})
	follow("/api/v1/components/e1/uptime?days=7", 1, func() {})
	t.Logf("slowest agreement after a change: %s", slowest)
}
