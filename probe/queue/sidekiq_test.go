package queue

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// needSidekiq fails the test unless Ruby can load Sidekiq (Debian:
// apt-get install -y ruby-sidekiq; scripts/test installs it).
func needSidekiq(t *testing.T) {
	t.Helper()
	if err := exec.Command("ruby", "-e", `require "sidekiq"`).Run(); err != nil {
		t.Fatalf("ruby with Sidekiq is not installed (%v). Install it (Debian/Ubuntu: apt-get install -y ruby-sidekiq) "+
			"and run the tests again", err)
	}
}

// TestQueueSidekiqRealClient pushes jobs with Sidekiq's own client (Debian's
// ruby-sidekiq) and compares the probe's figures with what Sidekiq's API
// says: size, Queue#latency (at the same instant), retry and dead sets.
func TestQueueSidekiqRealClient(t *testing.T) {
	t.Parallel()
	needSidekiq(t)
	srv := redistest.Start(t)
	before := time.Now()
	cmd := exec.CommandContext(t.Context(), "ruby", "testdata/sidekiq/push.rb", "mailers", "3")
	cmd.Env = append(os.Environ(), "REDIS_URL="+srv.URL())
	cmd.Stderr = nil // Sidekiq 6 with newer redis-rb prints deprecation warnings
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("push.rb: %v\n%s", err, out)
	}
	after := time.Now()
	var got struct {
		Size    int     `json:"size"`
		Latency float64 `json:"latency"`
		Now     float64 `json:"now"`
		Later   float64 `json:"later"`
		Retry   int     `json:"retry"`
		Dead    int     `json:"dead"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("push.rb printed %q: %v", out, err)
	}

	// Sidekiq's latency was taken between now and later: the probe's age at
	// now is at most that, and at later at least.
	sec, frac := math.Modf(got.Now)
	rubyNow := time.Unix(int64(sec), int64(frac*1e9))
	q := mustQueue(t, config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: "mailers"},
		func() time.Time { return rubyNow })
	res := probetest.Within(t, q.Probe, 2*time.Second)
	st := res.Queue
	if st == nil {
		t.Fatalf("%s %s: %s", res.Status, res.Reason, res.Message)
	}
	if st.Depth != float64(got.Size) || got.Size != 3 {
		t.Errorf("depth = %v, Sidekiq says %d, pushed 3", st.Depth, got.Size)
	}
	latency := time.Duration(got.Latency * float64(time.Second))
	window := time.Duration((got.Later - got.Now) * float64(time.Second))
	const slack = 2 * time.Millisecond // float seconds on both sides
	if st.OldestAge == nil || latency < *st.OldestAge-slack || latency > *st.OldestAge+window+slack {
		t.Errorf("oldest age at Sidekiq's instant = %v (+%v), Sidekiq's latency %v", ptrVal(st.OldestAge), window, latency)
	}
	if st.Extra["retry"] != float64(got.Retry) || st.Extra["dead"] != float64(got.Dead) || got.Retry != 1 || got.Dead != 1 {
		t.Errorf("extra = %v, Sidekiq says retry %d, dead %d", st.Extra, got.Retry, got.Dead)
	}
	if st.Consumers == nil || *st.Consumers != 0 {
		t.Errorf("consumers = %v, want 0 (no Sidekiq process runs)", ptrVal(st.Consumers))
	}

	// With the real clock the age is now minus the push time.
	q = mustQueue(t, config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: "mailers"}, nil)
	res = probetest.Within(t, q.Probe, 2*time.Second)
	now := time.Now()
	if res.Queue == nil || res.Queue.OldestAge == nil {
		t.Fatalf("%s %s: %s", res.Status, res.Reason, res.Message)
	}
	if age := *res.Queue.OldestAge; age < now.Sub(after)-10*time.Millisecond || age > now.Sub(before)+10*time.Millisecond {
		t.Errorf("oldest age %v, want between %v and %v", age, now.Sub(after), now.Sub(before))
	}
}

// TestQueueSidekiqRealWorker runs a real Sidekiq process on the queue: it
// counts as a consumer and drains the queue.
func TestQueueSidekiqRealWorker(t *testing.T) {
	t.Parallel()
	needSidekiq(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	for i := range 5 {
		pushJob(t, rdb, "work", fmt.Sprintf(`{"class":"HardJob","args":[%d],"jid":"j%d","queue":"work","enqueued_at":%f}`,
			i, i, float64(time.Now().UnixMicro())/1e6))
	}
	worker, err := filepath.Abs("testdata/sidekiq/worker.rb")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "sidekiq", "-r", worker, "-q", "work", "-c", "1", "-t", "1")
	cmd.Env = append(os.Environ(), "REDIS_URL="+srv.URL())
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sidekiq: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	q := mustQueue(t, config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: "work", MinConsumers: 1}, nil)
	deadline := time.Now().Add(30 * time.Second)
	var res probe.Result
	for time.Now().Before(deadline) {
		res = probetest.Within(t, q.Probe, 2*time.Second)
		if res.Queue != nil && res.Queue.Consumers != nil && *res.Queue.Consumers == 1 && res.Queue.Depth == 0 {
			if res.Status != probe.StatusUp || *res.Queue.OldestAge != 0 {
				t.Errorf("drained queue with a worker: %s %q", res.Status, res.Message)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no Sidekiq consumer drained the queue within 30s: %s %s %q", res.Status, res.Reason, res.Message)
}

func ptr[T any](v T) *T { return &v }

// pushJob LPUSHes a job payload as Sidekiq's client does.
func pushJob(t *testing.T, rdb *redis.Client, queue, payload string) {
	t.Helper()
	ctx := t.Context()
	if err := rdb.SAdd(ctx, "queues", queue).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.LPush(ctx, "queue:"+queue, payload).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestQueueSidekiqFormats covers the payload formats of Sidekiq's
// documentation and versions, and its process records, written by hand.
func TestQueueSidekiqFormats(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	clock := &fakeClock{t: trendT0}
	enq := trendT0.Add(-90 * time.Second)
	secs := float64(enq.UnixMicro()) / 1e6
	tests := []struct {
		name    string
		oldest  string // the payload at the tail: the oldest job
		age     *time.Duration
		problem string // the message when the job is unreadable
	}{
		{"sidekiq 6 float seconds", fmt.Sprintf(`{"class":"A","args":[1],"jid":"a","queue":"q","created_at":%f,"enqueued_at":%f}`, secs-1, secs),
			ptr(90 * time.Second), ""},
		{"sidekiq 8 integer milliseconds", fmt.Sprintf(`{"class":"A","args":[],"jid":"a","queue":"q","created_at":%d,"enqueued_at":%d}`, enq.UnixMilli()-5, enq.UnixMilli()),
			ptr(90 * time.Second), ""},
		{"created_at only", fmt.Sprintf(`{"class":"A","args":[],"jid":"a","created_at":%f}`, secs), ptr(90 * time.Second), ""},
		{"string time", fmt.Sprintf(`{"class":"A","args":[],"enqueued_at":"%f"}`, secs), ptr(90 * time.Second), ""},
		{"future time", fmt.Sprintf(`{"class":"A","args":[],"enqueued_at":%f}`, secs+600), ptr(time.Duration(0)), ""},
		{"no time", `{"class":"A","args":[]}`, nil, ""},
		{"not JSON", `A|[1]`, nil, `q: oldest job in "queue:q": not a JSON object`},
		{"bad time", `{"class":"A","enqueued_at":"yesterday"}`, nil, `q: oldest job in "queue:q": enqueued_at: not a number`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("q%d", i)
			pushJob(t, rdb, key, tt.oldest)
			pushJob(t, rdb, key, fmt.Sprintf(`{"class":"A","args":[],"enqueued_at":%f}`, secs+30))
			q := mustQueue(t, config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: key}, clock.Now)
			q.name = "q" // for the message
			res := probetest.Within(t, q.Probe, 2*time.Second)
			if tt.problem != "" {
				want := strings.Replace(tt.problem, `"queue:q"`, `"queue:`+key+`"`, 1)
				if res.Status != probe.StatusDown || res.Reason != probe.ReasonProtocol || res.Message != want {
					t.Errorf("got %s %s %q, want down protocol %q", res.Status, res.Reason, res.Message, want)
				}
				return
			}
			if res.Queue == nil || res.Queue.Depth != 2 {
				t.Fatalf("got %s %q %+v, want depth 2", res.Status, res.Message, res.Queue)
			}
			if got := res.Queue.OldestAge; fmt.Sprint(ptrVal(got)) != fmt.Sprint(ptrVal(tt.age)) {
				if got == nil || tt.age == nil || (*got-*tt.age).Abs() > time.Millisecond {
					t.Errorf("oldest age = %v, want %v", ptrVal(got), ptrVal(tt.age))
				}
			}
		})
	}
}

// TestQueueSidekiqConsumers counts processes from records written the way
// Sidekiq's launcher writes its heartbeat.
func TestQueueSidekiqConsumers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	process := func(id, quiet string, queues ...string) {
		info, _ := json.Marshal(map[string]any{"hostname": "h", "pid": 1, "concurrency": 5, "queues": queues, "identity": id})
		rdb.SAdd(ctx, "processes", id)
		if err := rdb.HSet(ctx, id, "info", info, "busy", 0, "beat", 1.0, "quiet", quiet).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.Expire(ctx, id, time.Minute)
	}
	process("h:1:a", "false", "mailers", "default")
	process("h:2:b", "false", "default") // another queue
	process("h:3:c", "true", "mailers")  // quiet: fetches nothing
	process("h:4:d", "false", "critical", "mailers")
	rdb.SAdd(ctx, "processes", "h:5:gone") // its heartbeat expired
	rdb.SAdd(ctx, "processes", "h:6:bad")
	rdb.HSet(ctx, "h:6:bad", "info", "{", "quiet", "false")

	q := mustQueue(t, config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: "mailers", MinConsumers: 3}, nil)
	res := probetest.Within(t, q.Probe, 2*time.Second)
	want := "mailers: 0 jobs, 2 consumers — 2 consumers (want at least 3)"
	if res.Status != probe.StatusDown || res.Reason != probe.ReasonThreshold || res.Message != want {
		t.Errorf("got %s %s %q, want down threshold %q", res.Status, res.Reason, res.Message, want)
	}
}

// FuzzSidekiqJob checks that no job payload crashes the parser, and that a
// time it accepts is a real one.
func FuzzSidekiqJob(f *testing.F) {
	for _, s := range []string{
		`{"class":"HardJob","args":[1],"jid":"a5cb2a8e1f782bac3f137dec","queue":"mailers","created_at":1795262327.3360784,"enqueued_at":1795262327.3363602}`,
		`{"class":"HardJob","args":[],"created_at":1795262327336,"enqueued_at":1795262327337}`,
		`{"enqueued_at":"1795262327.5"}`, `{"created_at":null,"enqueued_at":null}`, `[]`, `null`, `{"enqueued_at":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		at, ok, err := sidekiqEnqueuedAt(payload)
		if err != nil && ok {
			t.Fatalf("error %v with a time", err)
		}
		if ok && (at.Before(time.Unix(0, 1)) || at.Year() > 33700) {
			t.Fatalf("accepted time %v", at)
		}
	})
}
