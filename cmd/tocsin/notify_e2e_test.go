package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// hooks is a local webhook receiver: it records every delivery (its
// X-Tocsin-Delivery key and the replica that sent it) and answers code, or
// holds requests while hold is set.
type hooks struct {
	srv *httptest.Server

	mu       sync.Mutex
	code     int
	hold     chan struct{} // non-nil: requests wait until it is closed
	got      []delivery
	inFlight []delivery
}

type delivery struct{ key, replica string }

func startHooks(t *testing.T) *hooks {
	t.Helper()
	h := &hooks{code: http.StatusOK}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := delivery{r.Header.Get("X-Tocsin-Delivery"), r.Header.Get("X-Tocsin-Replica")}
		h.mu.Lock()
		hold, code := h.hold, h.code
		if hold != nil {
			h.inFlight = append(h.inFlight, d)
		}
		h.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return // the sender died: it never learns of the answer
			}
		}
		w.WriteHeader(code)
		if code < 300 {
			h.mu.Lock()
			h.got = append(h.got, d)
			h.mu.Unlock()
		}
	}))
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { h.holding(false) }) // before Close, which waits for held requests
	return h
}

func (h *hooks) answer(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.code = code
}

func (h *hooks) holding(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		h.hold = make(chan struct{})
		return
	}
	if h.hold != nil {
		close(h.hold)
		h.hold = nil
	}
}

func (h *hooks) deliveries() ([]delivery, []delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got), slices.Clone(h.inFlight)
}

func keysOf(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.key
	}
	return out
}

// hookConfig is the notify section of a config with one webhook receiver.
func hookConfig(url string) string {
	return fmt.Sprintf(`
notify:
  - {name: hooks, type: webhook, url: %q, retry_min: 100ms, retry_max: 500ms, timeout: 20s}
`, url)
}

// deliverer is the live replica that delivers the hooks receiver's events:
// the one whose failed attempts are counted.
func (f *fleet) deliverer() string {
	f.t.Helper()
	var who string
	eventually(f.t, 30*time.Second, "a replica delivering", func() bool {
		for r := range f.procs {
			if f.metric(r, `tocsin_notifications_total{receiver="hooks",result="failed"}`) > 0 {
				who = r
				return true
			}
		}
		return false
	})
	return who
}

// outage fails comp's target until its incident opened, then heals it and
// waits until the incident is resolved: three events (opened, monitoring,
// resolved).
func (f *fleet) outage(comp string) spIncident {
	f.t.Helper()
	in := f.openIncident(comp)
	f.targets[comp].set(http.StatusOK)
	eventually(f.t, 30*time.Second, comp+"'s incident resolved", func() bool {
		for _, i := range incidentsOf(f.any(), comp) {
			if i.ID == in.ID && i.Status == "resolved" {
				return true
			}
		}
		return false
	})
	return in
}

// TestNotifySurvivesReplicaDeath (issue 12, acceptance 3): events queued
// while the receiver is down survive the SIGKILL of the replica that
// delivers them, and of one whose delivery is in flight: another replica
// delivers them all, in order, and no event reaches the receiver twice but
// the one whose acknowledgement was lost with the dead replica.
func TestNotifySurvivesReplicaDeath(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	h.answer(http.StatusServiceUnavailable)
	f := startFleet(t, []string{"n1"}, []string{"r1", "r2", "r3"}, fleetOptions{extra: hookConfig(h.srv.URL)})

	// Undelivered events: the receiver is down for a whole incident.
	in := f.outage("n1")
	dead := f.deliverer()
	deadMember := f.procs[dead].member
	f.procs[dead].kill()
	delete(f.procs, dead)
	h.answer(http.StatusOK)
	want := []string{in.ID + ":" + in.ID + "u1", in.ID + ":" + in.ID + "u2", in.ID + ":" + in.ID + "u3"}
	eventually(t, 30*time.Second, "every event delivered by another replica", func() bool {
		got, _ := h.deliveries()
		return len(got) >= len(want)
	})
	got, _ := h.deliveries()
	if !slices.Equal(keysOf(got), want) {
		t.Errorf("delivered %v, want each of %v once, in order", keysOf(got), want)
	}
	for _, d := range got {
		if d.replica == "" || d.replica == deadMember {
			t.Errorf("%s delivered by %q, not by a live replica", d.key, d.replica)
		}
	}

	// A delivery in flight: its replica dies before the receiver answers.
	h.holding(true)
	in2 := f.openIncident("n1")
	var held delivery
	eventually(t, 30*time.Second, "a delivery in flight", func() bool {
		_, fl := h.deliveries()
		if len(fl) > 0 {
			held = fl[0]
		}
		return len(fl) > 0
	})
	for r, p := range f.procs {
		if p.member == held.replica {
			p.kill()
			delete(f.procs, r)
		}
	}
	h.holding(false)
	f.targets["n1"].set(http.StatusOK)
	first := in2.ID + ":" + in2.ID + "u1"
	eventually(t, 30*time.Second, "the second incident's events delivered", func() bool {
		got, _ := h.deliveries()
		return slices.Contains(keysOf(got), in2.ID+":"+in2.ID+"u3")
	})
	got, _ = h.deliveries()
	counts := map[string]int{}
	for _, k := range keysOf(got) {
		counts[k]++
	}
	for k, n := range counts {
		if n > 1 && k != held.key {
			t.Errorf("%s delivered %d times; only the one in flight (%s) may be sent again", k, n, held.key)
		}
	}
	if held.key != first {
		t.Errorf("the delivery in flight was %s, want the incident's first event %s", held.key, first)
	}
}

// TestNotifyAfterRestart (acceptance 3): the only replica is killed with
// events undelivered; started again, it delivers them all, once.
func TestNotifyAfterRestart(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	h.answer(http.StatusServiceUnavailable)
	f := startFleet(t, []string{"s1"}, []string{"r1"}, fleetOptions{extra: hookConfig(h.srv.URL), durable: true})
	in := f.outage("s1")
	f.deliverer()
	f.procs["r1"].kill()
	h.answer(http.StatusOK)
	f.start("r1")
	want := []string{in.ID + ":" + in.ID + "u1", in.ID + ":" + in.ID + "u2", in.ID + ":" + in.ID + "u3"}
	eventually(t, 60*time.Second, "delivered after the restart", func() bool {
		got, _ := h.deliveries()
		return len(got) >= len(want)
	})
	if got, _ := h.deliveries(); !slices.Equal(keysOf(got), want) {
		t.Errorf("delivered %v, want %v", keysOf(got), want)
	}
}
