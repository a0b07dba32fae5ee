package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/notify"
)

// TestWatchdogFollowsHealth (issue 12, acceptance 6): pings every interval
// while healthy, none from the first tick after the replica turns
// unhealthy, and again once it is healthy.
func TestWatchdogFollowsHealth(t *testing.T) {
	t.Parallel()
	var pings atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/ping/abc" {
			pings.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var sick error
	health := func() error { mu.Lock(); defer mu.Unlock(); return sick }
	set := func(err error) { mu.Lock(); defer mu.Unlock(); sick = err }
	const interval = 50 * time.Millisecond
	w, err := notify.NewWatchdog(config.Watchdog{URL: config.Secret(srv.URL + "/ping/abc"), Interval: interval},
		health, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "pings while healthy", func() bool { return pings.Load() >= 3 })
	set(errors.New("the scheduler is behind"))
	// A tick already past its health check may still ping: one more at
	// most, none after.
	n := pings.Load()
	stopped := time.Now()
	waitFor(t, "ten intervals unhealthy", func() bool { return time.Since(stopped) > 10*interval })
	if got := pings.Load(); got > n+1 {
		t.Errorf("%d pings while unhealthy", got-n)
	}
	set(nil)
	waitFor(t, "pings again", func() bool { return pings.Load() >= n+3 })

	if w, err := notify.NewWatchdog(config.Watchdog{}, health, prometheus.NewRegistry(), nil); w != nil || err != nil {
		t.Errorf("no URL: %v, %v; want no watchdog", w, err)
	}
}
