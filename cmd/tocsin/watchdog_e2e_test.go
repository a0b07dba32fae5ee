package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// pinged records the times of a watchdog's pings.
type pinged struct {
	mu    sync.Mutex
	times []time.Time
}

func (p *pinged) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.times = append(p.times, time.Now())
}

func (p *pinged) since(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, at := range p.times {
		if at.After(t) {
			n++
		}
	}
	return n
}

// TestWatchdogStopsWhileRedisIsAway (issue 12, acceptance 6, the real
// binary): the watchdog pings every interval while the replica is healthy,
// stops within an interval once Redis takes no writes, and resumes when
// Redis is back. (The scheduler's side: notify and schedule unit tests.)
func TestWatchdogStopsWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	p := &pinged{}
	dog := httptest.NewServer(p)
	t.Cleanup(dog.Close)
	const interval = time.Second
	f := startFleet(t, []string{"w1"}, []string{"r1"}, fleetOptions{durable: true,
		extra: fmt.Sprintf("watchdog: {url: %q, interval: %s}\n", dog.URL+"/ping/0123456789abcdef0123", interval)})
	start := time.Now()
	eventually(t, 30*time.Second, "pings", func() bool { return p.since(start) >= 2 })

	f.rds.Stop()
	stopped := time.Now()
	// The store counts as unwritable once no lease round succeeded for
	// 500 ms (two renew periods of a 1.5 s lease): the ping after that is
	// skipped. Slack for a busy machine.
	quiet := stopped.Add(interval + 500*time.Millisecond + fleetSlack)
	eventually(t, 30*time.Second, "a few intervals with Redis away", func() bool {
		return time.Since(quiet) > 3*interval
	})
	if n := p.since(quiet); n != 0 {
		t.Errorf("%d pings with Redis away", n)
	}
	f.rds.Restart(t)
	back := time.Now()
	eventually(t, 30*time.Second, "pings again", func() bool { return p.since(back) >= 2 })
	_, m := f.procs["r1"].get("/metrics")
	if !strings.Contains(string(m), `tocsin_watchdog_pings_total{result="skipped"}`) {
		t.Error("skipped pings not counted")
	}
}

// TestNotifyTestCommand: `tocsin notify test` sends a test event to one
// receiver and says what the receiver answered; exit 1 when it did not take
// it, 2 for a receiver the config does not have.
func TestNotifyTestCommand(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", `
components: [{id: web, name: Web}]
checks: [{name: web-home, component: web, type: http, http: {url: "http://127.0.0.1:1/"}}]
`+hookConfig(h.srv.URL))
	run := func(args ...string) (string, int) {
		cmd := exec.Command(tocsinBinary(t), args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	if out, code := run("notify", "test", "--config", cfg, "hooks"); code != 0 || !strings.Contains(out, "hooks: test event delivered") {
		t.Errorf("delivered: exit %d, %q", code, out)
	}
	if got, _ := h.deliveries(); len(got) != 1 || !strings.HasPrefix(got[0].key, "test:") {
		t.Errorf("the receiver got %+v", got)
	}
	h.answer(http.StatusServiceUnavailable)
	if out, code := run("notify", "test", "--config", cfg, "hooks"); code != 1 || !strings.Contains(out, "HTTP 503") ||
		!strings.Contains(out, "would retry") || strings.Contains(out, h.srv.URL) {
		t.Errorf("refused: exit %d, %q", code, out)
	}
	if out, code := run("notify", "test", "--config", cfg, "nobody"); code == 0 || !strings.Contains(out, `no receiver "nobody"`) {
		t.Errorf("unknown receiver: exit %d, %q", code, out)
	}
}
