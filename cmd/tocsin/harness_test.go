package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/syncbuf"
)

// binary builds the real tocsin binary once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tocsin-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tocsin")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func tocsinBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// proc is a running tocsin binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	base   string // http://127.0.0.1:port
	member string // its id among the replicas
	done   chan error
}

var (
	listeningRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"|msg=listening addr=(\S+)`)
	memberRE    = regexp.MustCompile(`"msg":"listening","addr":"[^"]+","member":"([^"]+)"|msg=listening addr=\S+ member=(\S+)`)
)

// startTocsin runs the binary with args and waits until it serves HTTP.
func startTocsin(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(tocsinBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if err := <-p.done; t.Failed() {
			t.Logf("tocsin (%v) output:\n%s", err, out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			p.base = "http://" + m[1] + m[2]
			if m := memberRE.FindStringSubmatch(out.String()); m != nil {
				p.member = m[1] + m[2]
			}
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("tocsin exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("tocsin did not start listening:\n%s", out.String())
	return nil
}

// startReplicas runs n processes with the same arguments, each its own
// replica (REPLICA=r1, r2, ...).
func startReplicas(t *testing.T, n int, args ...string) []*proc {
	t.Helper()
	ps := make([]*proc, n)
	for i := range ps {
		ps[i] = startTocsin(t, []string{fmt.Sprintf("REPLICA=r%d", i+1)}, args...)
	}
	return ps
}

// resultsSince counts the recent results of a check (in
// /api/v1/checks/{name}) that started at or after from.
func (p *proc) resultsSince(name string, from time.Time) int {
	p.t.Helper()
	var v struct {
		Check struct {
			Recent []struct {
				Start time.Time `json:"start"`
			} `json:"recent"`
		} `json:"check"`
	}
	p.getJSON("/api/v1/checks/"+name, &v)
	n := 0
	for _, r := range v.Check.Recent {
		if !r.Start.Before(from) {
			n++
		}
	}
	return n
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// stop sends SIGTERM and returns how long the exit took and the exit error.
func (p *proc) stop() (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return time.Since(start), err
	case <-time.After(15 * time.Second):
		return time.Since(start), fmt.Errorf("still running 15s after SIGTERM")
	}
}

func (p *proc) get(path string) (int, []byte) {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, b
}

func (p *proc) getJSON(path string, v any) {
	p.t.Helper()
	code, b := p.get(path)
	if code != http.StatusOK {
		p.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		p.t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// Statuspage shapes, as much as the tests read.
type spUpdate struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	Body               string `json:"body"`
	CreatedAt          string `json:"created_at"`
	AffectedComponents []struct {
		Code      string `json:"code"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	} `json:"affected_components"`
}

type spIncident struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Status          string     `json:"status"`
	Impact          string     `json:"impact"`
	StartedAt       string     `json:"started_at"`
	CreatedAt       string     `json:"created_at"`
	ResolvedAt      *string    `json:"resolved_at"`
	IncidentUpdates []spUpdate `json:"incident_updates"`
	Components      []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"components"`
}

type spIncidents struct {
	Incidents []spIncident `json:"incidents"`
}

type spComponents struct {
	Components []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"components"`
}

func (p *proc) incidents(path string) []spIncident {
	var v spIncidents
	p.getJSON(path, &v)
	return v.Incidents
}

func (p *proc) componentStatus(id string) string {
	var v spComponents
	p.getJSON("/api/v2/components.json", &v)
	for _, c := range v.Components {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

// checkStatus is a check's confirmed state from /api/v1/checks/{name}.
func (p *proc) checkStatus(name string) string {
	var v struct {
		Check struct {
			Status string `json:"status"`
		} `json:"check"`
	}
	p.getJSON("/api/v1/checks/"+name, &v)
	return v.Check.Status
}

// eventually polls cond every 50ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkTimeline asserts what every replayed outage's incident must show:
// started_at retroactive (the first bad result, before the thresholds
// confirmed it), statuses in order (it opens investigating and ends
// resolved), and a bounded number of updates.
func checkTimeline(t *testing.T, inc spIncident, maxUpdates int) {
	t.Helper()
	started, err1 := time.Parse(time.RFC3339Nano, inc.StartedAt)
	created, err2 := time.Parse(time.RFC3339Nano, inc.CreatedAt)
	if err1 != nil || err2 != nil || !started.Before(created) {
		t.Errorf("started_at %s, created_at %s: want the start before the confirmation", inc.StartedAt, inc.CreatedAt)
	}
	n := len(inc.IncidentUpdates)
	switch {
	case n == 0:
		t.Fatal("no updates")
	case n > maxUpdates:
		t.Errorf("%d updates, want at most %d", n, maxUpdates)
	}
	if first, last := inc.IncidentUpdates[n-1].Status, inc.IncidentUpdates[0].Status; first != "investigating" || last != "resolved" {
		t.Errorf("statuses %v (newest first), want investigating first and resolved last", updateStatuses(inc))
	}
	for i := n - 1; i > 0; i-- { // oldest first: monitoring is followed by resolved or a relapse
		if inc.IncidentUpdates[i].Status == "monitoring" && inc.IncidentUpdates[i-1].Status == "identified" {
			t.Errorf("statuses %v: identified after monitoring", updateStatuses(inc))
		}
	}
}
