package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/faultproxy"
	"github.com/tocsin/tocsin/internal/redistest"
)

// The fleet tests run several real tocsin processes on one real
// redis-server against local targets, and read the outcome through the
// public API, as a user with a Deployment of several replicas would.

const (
	fleetInterval = 300 * time.Millisecond
	fleetTimeout  = 250 * time.Millisecond
	fleetLease    = 1500 * time.Millisecond
	// fleetSlack is what a busy CI machine may add to any bound on top of
	// what the design promises (a scheduler tick, a writer pass, a poll).
	fleetSlack = 2 * time.Second
)

// hit is one probe a target received.
type hit struct {
	at      time.Time
	replica string
	status  int
}

// target is an HTTP check's target that records every probe with the
// replica that sent it (the X-Replica header, from each process's
// environment) and answers a status, or another to one replica only.
type target struct {
	srv *httptest.Server

	mu      sync.Mutex
	status  int
	failFor map[string]bool // replicas answered 503 whatever status says
	hits    []hit
}

func startTarget(t *testing.T) *target {
	t.Helper()
	tg := &target{status: http.StatusOK}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := r.Header.Get("X-Replica")
		tg.mu.Lock()
		code := tg.status
		if tg.failFor[rep] {
			code = http.StatusServiceUnavailable
		}
		tg.hits = append(tg.hits, hit{time.Now(), rep, code})
		tg.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) set(code int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.status = code
}

func (tg *target) failOnlyFor(replica string) { tg.failFrom(replica) }

// failFrom makes the target answer 503 to the named replicas only (none:
// to no one).
func (tg *target) failFrom(replicas ...string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.failFor = map[string]bool{}
	for _, r := range replicas {
		if r != "" {
			tg.failFor[r] = true
		}
	}
}

// since returns the hits at or after from.
func (tg *target) since(from time.Time) []hit {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	i, _ := slices.BinarySearchFunc(tg.hits, from, func(h hit, t time.Time) int { return h.at.Compare(t) })
	return slices.Clone(tg.hits[i:])
}

// maxGap is the longest time between two consecutive hits in [from, to],
// counting from from and up to to.
func (tg *target) maxGap(from, to time.Time) time.Duration {
	prev, gap := from, time.Duration(0)
	for _, h := range tg.since(from) {
		if h.at.After(to) {
			break
		}
		gap = max(gap, h.at.Sub(prev))
		prev = h.at
	}
	return max(gap, to.Sub(prev))
}

// fleet is redis-server, one target per component and the replicas.
type fleet struct {
	t        *testing.T
	rds      *redistest.Server   // nil with a Sentinel
	sentinel *redistest.Sentinel // with fleetOptions.sentinel
	args     []string            // more arguments for every replica
	cfg      string
	comps    []string
	targets  map[string]*target
	procs    map[string]*proc // by replica name
	vantages map[string]string
	started  time.Time // when the first replica was started
	proxy    *faultproxy.Proxy
}

// fleetOptions tune a fleet's config.
type fleetOptions struct {
	interval time.Duration // default fleetInterval
	durable  bool          // redis-server with the AOF on
	viaProxy bool          // the replicas reach Redis through a faultproxy
	extra    string        // more YAML at the end of the config (notify:, watchdog:)
	sentinel bool          // a primary, a replica and three sentinels instead of one redis-server
	debug    bool          // the replicas log at debug level
	// vantages maps replicas to their vantage (TOCSIN_VANTAGE); the
	// config then declares them all.
	vantages map[string]string
	// compKeys are more keys of every component ("regional: degraded").
	compKeys string
	// moreChecks are more items of the checks list, in YAML.
	moreChecks string
}

// startFleet starts redis-server, a target per component and the named
// replicas, and waits until every check is up, seen alike by all.
func startFleet(t *testing.T, comps []string, replicas []string, o fleetOptions) *fleet {
	t.Helper()
	f := &fleet{t: t, comps: comps, targets: map[string]*target{}, procs: map[string]*proc{}, vantages: o.vantages}
	var redisURL string
	switch {
	case o.sentinel:
		f.sentinel = redistest.StartSentinel(t)
		redisURL = f.sentinel.URL()
	case o.durable:
		f.rds = redistest.StartDurable(t)
	default:
		f.rds = redistest.Start(t)
	}
	if f.rds != nil {
		redisURL = f.rds.URL()
	}
	if o.debug {
		f.args = []string{"--log-level", "debug"}
	}
	if o.viaProxy {
		f.proxy = faultproxy.Start(t, f.rds.Addr())
		redisURL = "redis://" + f.proxy.Addr() + "/0"
	}
	if o.interval == 0 {
		o.interval = fleetInterval
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "fleet:", timeout: 1s, dial_timeout: 500ms}
ownership: {lease_duration: %s}
page: {name: "Fleet", url: "http://status.test"}
defaults: {interval: %s, timeout: %s, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 0s, resolve_after: 1500ms, reopen_window: 0s, retention: 1h}
components:
`, redisURL, fleetLease, o.interval, fleetTimeout)
	for _, c := range comps {
		keys := ""
		if o.compKeys != "" {
			keys = ", " + o.compKeys
		}
		fmt.Fprintf(&b, "  - {id: %s, name: %s%s}\n", c, strings.ToUpper(c), keys)
	}
	b.WriteString("checks:\n")
	for _, c := range comps {
		f.targets[c] = startTarget(t)
		fmt.Fprintf(&b, `  - name: %s-http
    component: %s
    type: http
    impact: major_outage
    http: {url: %q, headers: {X-Replica: "${REPLICA}"}}
`, c, c, f.targets[c].srv.URL)
	}
	b.WriteString(o.moreChecks)
	if len(o.vantages) > 0 {
		fmt.Fprintf(&b, "vantages: [%s]\n", strings.Join(slices.Compact(slices.Sorted(maps.Values(o.vantages))), ", "))
	}
	b.WriteString(o.extra)
	f.cfg = writeFile(t, t.TempDir(), "tocsin.yml", b.String())
	f.started = time.Now()
	for _, r := range replicas {
		f.start(r)
	}
	f.waitAllUp()
	return f
}

// start runs replica r (again, after a stop).
func (f *fleet) start(r string) *proc {
	f.t.Helper()
	env := []string{"REPLICA=" + r}
	if v := f.vantages[r]; v != "" {
		env = append(env, "TOCSIN_VANTAGE="+v)
	}
	p := startTocsin(f.t, env, append([]string{"run", "--config", f.cfg, "--log-format", "json"}, f.args...)...)
	f.procs[r] = p
	return p
}

// any returns a live replica to read the public API from.
func (f *fleet) any() *proc {
	f.t.Helper()
	for _, r := range slices.Sorted(maps.Keys(f.procs)) {
		p := f.procs[r]
		select {
		case err := <-p.done:
			p.done <- err
		default:
			return p
		}
	}
	f.t.Fatal("no live replica")
	return nil
}

// waitAllUp waits until every check is up on every live replica's API.
func (f *fleet) waitAllUp() {
	f.t.Helper()
	eventually(f.t, 60*time.Second, "every check up on every replica", func() bool {
		for _, p := range f.procs {
			for _, c := range f.comps {
				if p.checkStatus(c+"-http") != "up" {
					return false
				}
			}
		}
		return true
	})
}

// owner is the replica that probes comp now: the one whose last few
// probes all came from it.
func (f *fleet) owner(comp string) string {
	f.t.Helper()
	var who string
	eventually(f.t, 30*time.Second, "a steady owner of "+comp, func() bool {
		hs := f.targets[comp].since(time.Now().Add(-4 * fleetInterval))
		if len(hs) < 2 {
			return false
		}
		who = hs[0].replica
		for _, h := range hs {
			if h.replica != who {
				return false
			}
		}
		return true
	})
	return who
}

// metric sums a counter or gauge family's samples in r's /metrics.
func (f *fleet) metric(r, name string) float64 {
	f.t.Helper()
	_, body := f.procs[r].get("/metrics")
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
			sum += v
		}
	}
	return sum
}

// stop sends SIGTERM to r and asserts it exits 0 within the 10 s docs/operations.md
// gives.
func (f *fleet) stop(r string) {
	f.t.Helper()
	took, err := f.procs[r].stop()
	if err != nil || took > 10*time.Second {
		f.t.Errorf("replica %s: SIGTERM exit after %s: %v", r, took, err)
	}
}

// checkJSONLogs: every line each replica wrote is a JSON log record, even
// what the Redis client had to say while Redis was away or failing over.
func (f *fleet) checkJSONLogs() {
	f.t.Helper()
	for r, p := range f.procs {
		for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
			if !json.Valid([]byte(line)) {
				f.t.Errorf("replica %s logged a line that is not JSON: %q", r, line)
				break
			}
		}
	}
}

// signal sends sig to r.
func (f *fleet) signal(r string, sig syscall.Signal) {
	f.t.Helper()
	if err := f.procs[r].cmd.Process.Signal(sig); err != nil {
		f.t.Fatalf("signal %s to %s: %v", sig, r, err)
	}
}

// incidentsOf returns comp's incidents, oldest first, from replica p.
func incidentsOf(p *proc, comp string) []spIncident {
	var out []spIncident
	for _, in := range p.incidents("/api/v2/incidents.json") {
		if slices.ContainsFunc(in.Components, func(c struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}) bool {
			return c.ID == comp
		}) {
			out = append(out, in)
		}
	}
	slices.Reverse(out)
	return out
}

// changes lists an incident's updates oldest first as "status:old>new" for
// updates that changed a component and "status" for the others.
func changes(in spIncident) []string {
	var out []string
	for _, u := range slices.Backward(in.IncidentUpdates) {
		s := u.Status
		for _, a := range u.AffectedComponents {
			s += ":" + a.OldStatus + ">" + a.NewStatus
		}
		out = append(out, s)
	}
	return out
}
