package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/redistest"
)

// TestFleetSentinelFailover (issue 16, acceptance 1 and 2): three replicas
// on a Redis run with Sentinel (a primary, a replica, three sentinels)
// while an incident is open. The primary is killed, or frozen (SIGSTOP)
// until the sentinels promote the replica and then woken. Probing goes on;
// the same incident continues and resolves, with no duplicate incident and
// no repeated update; the replicas see the failover; no fencing token is
// handed to two owners; a write the frozen primary took after waking is
// gone from the final state.
func TestFleetSentinelFailover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		freeze bool
	}{
		{"primary killed", false},
		{"primary frozen past the failover, then woken", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, []string{"a1", "a2"}, []string{"r1", "r2", "r3"}, fleetOptions{sentinel: true, debug: true})
			in := f.openIncident("a1")
			old := f.sentinel.Primary(t)
			marker := "fleet:{st}:late-write"
			cut := time.Now()
			var late chan error
			if tc.freeze {
				old.Pause()
				late = lateWrite(old, marker)
			} else {
				old.Kill()
			}
			primary := f.sentinel.WaitFailover(t, old, 60*time.Second)
			if tc.freeze {
				old.Resume()
				// nil: the woken primary took the write before it was
				// demoted; READONLY: it was demoted first. Either way the
				// final state must not hold it.
				t.Logf("the late write to the woken primary: %v", <-late)
				waitReplicaOf(t, old, primary)
			}
			// Every replica saw the new primary and wrote its state again,
			// as after Redis lost its data.
			eventually(t, 30*time.Second, "every replica writing its state to the new primary", func() bool {
				for r, p := range f.procs {
					if f.metric(r, "tocsin_store_failovers_total") < 1 ||
						!strings.Contains(p.out.String(), `"msg":"Redis lost its data or failed over`) {
						return false
					}
				}
				return true
			})
			// Ready again, on the new primary.
			eventually(t, 30*time.Second, "every replica ready", func() bool {
				for _, p := range f.procs {
					if code, _ := p.get("/readyz"); code != http.StatusOK {
						return false
					}
				}
				return true
			})
			// Twice the other fleet tests' slack: a failover test runs
			// three sentinels and two Redis beside the replicas.
			if gap := f.targets["a1"].maxGap(cut.Add(fleetLease), time.Now()); gap > fleetInterval+2*fleetSlack {
				t.Errorf("probing stalled for %s across the failover", gap)
			}

			// The same incident, still open, then resolved after recovery.
			ins := incidentsOf(f.any(), "a1")
			if len(ins) != 1 || ins[0].ID != in.ID || ins[0].Status == "resolved" {
				t.Fatalf("after the failover: %+v, want incident %s still open and alone", ins, in.ID)
			}
			f.targets["a1"].set(http.StatusOK)
			eventually(t, 30*time.Second, "the incident resolved", func() bool {
				ins := incidentsOf(f.any(), "a1")
				return len(ins) == 1 && ins[0].Status == "resolved"
			})
			ins = incidentsOf(f.any(), "a1")
			if len(ins) != 1 || ins[0].ID != in.ID {
				t.Fatalf("after recovery: %d incidents of a1, want %s alone", len(ins), in.ID)
			}
			if got := changes(ins[0]); repeated(got) > 1 {
				t.Errorf("updates %v: an update repeated beyond one retried write", got)
			}
			if len(incidentsOf(f.any(), "a2")) != 0 {
				t.Error("a2, up all along, has an incident")
			}
			checkTokensUnique(t, f)
			f.checkJSONLogs()

			// The late write went to the old primary, now a replica in
			// sync with the new one: neither holds it.
			for _, node := range []*redistest.Server{primary, old} {
				if !tc.freeze && node == old {
					continue // killed
				}
				c := redis.NewClient(&redis.Options{Addr: node.Addr()})
				n, err := c.Exists(context.Background(), marker).Result()
				_ = c.Close()
				if err != nil || n != 0 {
					t.Errorf("%s holds the frozen primary's late write (exists %d, %v)", node.Addr(), n, err)
				}
			}
		})
	}
}

// lateWrite sends a write to a frozen primary: it waits in the socket and
// runs when the primary wakes, before the sentinels demote it.
func lateWrite(old *redistest.Server, key string) chan error {
	done := make(chan error, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: old.Addr(), ReadTimeout: -1, DialTimeout: time.Second})
		defer c.Close()
		done <- c.Set(context.Background(), key, "late", 0).Err()
	}()
	return done
}

// waitReplicaOf waits until node replicates from primary, in sync: the
// sentinels demoted it and it took the new primary's data.
func waitReplicaOf(t *testing.T, node, primary *redistest.Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: node.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	eventually(t, 60*time.Second, node.Addr()+" a replica of "+primary.Addr(), func() bool {
		info, err := c.Info(context.Background(), "replication").Result()
		port := primary.Addr()[strings.LastIndexByte(primary.Addr(), ':')+1:]
		return err == nil && strings.Contains(info, "role:slave") &&
			strings.Contains(info, "master_port:"+port) && strings.Contains(info, "master_link_status:up")
	})
}

// repeated counts updates equal to the one before them.
func repeated(changes []string) int {
	n := 0
	for i := 1; i < len(changes); i++ {
		if changes[i] == changes[i-1] {
			n++
		}
	}
	return n
}

// checkTokensUnique reads every grant the replicas logged ("component
// acquired", debug level) and fails if one token went to two owners or two
// components: a token issued twice.
func checkTokensUnique(t *testing.T, f *fleet) {
	t.Helper()
	seen := map[int64]string{}
	grants := 0
	for r, p := range f.procs {
		for _, line := range strings.Split(p.out.String(), "\n") {
			if !strings.Contains(line, `"msg":"component acquired"`) {
				continue
			}
			var e struct {
				Component string `json:"component"`
				Token     int64  `json:"token"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: log line %q: %v", r, line, err)
			}
			grants++
			who := fmt.Sprintf("%s/%s", r, e.Component)
			if prev, ok := seen[e.Token]; ok && prev != who {
				t.Errorf("token %d issued to %s and to %s", e.Token, prev, who)
			}
			seen[e.Token] = who
		}
	}
	if grants == 0 {
		t.Fatal("no grant logged: the test proves nothing")
	}
}
