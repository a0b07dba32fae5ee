package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/status"
)

// The load test of issue 6: /api/v2/summary.json of a page with
// loadComponents components and loadOpen open incidents, served by tocsin
// from a snapshot the Refresher built from a real Redis, against a plain
// handler writing the same bytes from memory.
const (
	loadComponents = 50
	loadOpen       = 20
	loadResolved   = 10
	summaryPath    = "/api/v2/summary.json"
	// loadWorkers is how many keep-alive clients the load generator runs.
	loadWorkers = 32
	// loadRound is how long a server is loaded in one turn. Short turns,
	// many of them, spread the noise of a shared machine evenly over both
	// servers.
	loadRound = 250 * time.Millisecond
)

// variant is one Accept-Encoding a client may send.
type variant struct {
	name           string
	acceptEncoding string
}

var variants = []variant{{"identity", "identity"}, {"gzip", "gzip"}}

// loadEnv is a Redis with the page's state, the Refresher and Server that
// publish it, and tocsin served over a real socket.
type loadEnv struct {
	redis  *redistest.Server
	cfg    *config.Config
	tocsin string // base URL
}

func newLoadEnv(tb testing.TB) *loadEnv {
	tb.Helper()
	rds := redistest.Start(tb)
	cfg := loadConfig(tb)
	store := redisstore.New(rds.Client(tb), "load:")
	writeLoadState(tb, store)

	srv := status.NewServer(status.ServerOptions{})
	r := status.NewRefresher(status.RefresherOptions{Store: store, Config: func() *config.Config { return cfg }, Server: srv})
	// One Refresh builds the snapshot from Redis. Run, the periodic poll,
	// is deliberately not started: Redis then sees only what requests
	// cause (see docs/benchmarks.md).
	if err := r.Refresh(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return &loadEnv{redis: rds, cfg: cfg, tocsin: serve(tb, srv.Handler(), cfg.Server)}
}

// loadConfig is a page of loadComponents components, loaded like the
// daemon's, so the HTTP server gets the daemon's default timeouts.
func loadConfig(tb testing.TB) *config.Config {
	tb.Helper()
	var y strings.Builder
	y.WriteString("page: {id: acme, name: Acme Status, url: \"https://status.acme.example\"}\ncomponents:\n")
	for i := range loadComponents {
		fmt.Fprintf(&y, "  - {id: comp-%02d, name: Component %02d, description: Component number %d}\n", i, i, i)
	}
	file := filepath.Join(tb.TempDir(), "tocsin.yml")
	if err := os.WriteFile(file, []byte(y.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// loadMember is the replica that writes the load test's state.
const loadMember = "load"

// writeLoadState writes, through the store's own scripts, loadOpen open
// incidents of one component each with four updates, and loadResolved
// resolved ones, as loadMember, a live member owning every component.
func writeLoadState(tb testing.TB, store *redisstore.Store) {
	tb.Helper()
	ctx := tb.Context()
	fences := claimAll(tb, store)
	// No grouping: every failing component opens its own incident.
	policy := incident.Policy{ResolveAfter: 5 * time.Minute, ReopenWindow: 0, Retention: 2160 * time.Hour}
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	observe := func(comp int, s detector.ComponentStatus, at time.Time) {
		id := fmt.Sprintf("comp-%02d", comp)
		_, err := store.Observe(ctx, incident.Observation{Component: id, ComponentName: fmt.Sprintf("Component %02d", comp),
			Status: s, At: at, Body: fmt.Sprintf("Component %02d is %s.", comp, s.Label()),
			Detail: fmt.Sprintf("check-%02d: slow (p95 2.5s > 2s)", comp), Policy: policy, Fence: fences[id]})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for i := range loadOpen {
		at := base.Add(time.Duration(i) * time.Minute)
		for j, s := range []detector.ComponentStatus{detector.DegradedPerformance, detector.PartialOutage,
			detector.MajorOutage, detector.PartialOutage} {
			observe(i, s, at.Add(time.Duration(j)*time.Minute))
		}
	}
	for i := loadOpen; i < loadOpen+loadResolved; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		observe(i, detector.MajorOutage, at)
		observe(i, detector.Operational, at.Add(10*time.Minute))
	}
	if _, err := store.Tick(ctx, incident.TickRequest{Now: base.Add(time.Hour), Policy: policy,
		ResolvedBody: "This incident has been resolved.", Member: loadMember}); err != nil {
		tb.Fatal(err)
	}
}

// claimAll makes loadMember a live member for the test and claims every
// component for it; it returns the grants by component.
func claimAll(tb testing.TB, store *redisstore.Store) map[string]ownership.Fence {
	tb.Helper()
	comps := make([]string, loadComponents)
	for i := range comps {
		comps[i] = fmt.Sprintf("comp-%02d", i)
	}
	for range 3 { // the first round may change the epoch (the join)
		rep, err := store.Lease(tb.Context(), ownership.LeaseRequest{Member: loadMember, TTL: time.Hour, Epoch: -1})
		if err != nil {
			tb.Fatal(err)
		}
		rep, err = store.Lease(tb.Context(), ownership.LeaseRequest{Member: loadMember, TTL: time.Hour,
			Epoch: rep.Epoch, Claim: comps})
		if err != nil {
			tb.Fatal(err)
		}
		if len(rep.Granted) == len(comps) {
			fences := make(map[string]ownership.Fence, len(comps))
			for _, g := range rep.Granted {
				fences[g.Component] = g.Fence
			}
			return fences
		}
	}
	tb.Fatalf("the claims of %d components were never granted", len(comps))
	return nil
}

// serve serves h on 127.0.0.1 with the daemon's server settings until the
// test ends, and returns its base URL.
func serve(tb testing.TB, h http.Handler, sc config.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: sc.ReadHeaderTimeout, ReadTimeout: sc.ReadTimeout,
		WriteTimeout: sc.WriteTimeout, IdleTimeout: sc.IdleTimeout, MaxHeaderBytes: sc.MaxHeaderBytes}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// response is what a client needs to tell two servers' answers apart.
type response struct {
	body     []byte
	ctype    string
	encoding string
	header   http.Header
}

// fetch GETs url with Accept-Encoding set, as the load generator does.
func fetch(tb testing.TB, c *http.Client, url, acceptEncoding string) response {
	tb.Helper()
	r, err := get(c, url, acceptEncoding)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// get is fetch for any goroutine: it returns what fetch fails on.
func get(c *http.Client, url, acceptEncoding string) (response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(body)) {
		return response{}, fmt.Errorf("GET %s (%s): %d, Content-Length %d for %d bytes", url, acceptEncoding,
			resp.StatusCode, resp.ContentLength, len(body))
	}
	return response{body: body, ctype: resp.Header.Get("Content-Type"), encoding: resp.Header.Get("Content-Encoding"),
		header: resp.Header}, nil
}

// plainHandler writes r from memory with the very headers tocsin sent
// (Date aside, which net/http adds to both): the same bytes on the wire, so
// the comparison measures what tocsin does per request, not a difference in
// header size. (Without them, a gzipped summary of 3.7 kB fitted in one
// socket write for the plain handler and not with tocsin's headers.)
func plainHandler(r response) http.Handler {
	header := r.header.Clone()
	header.Del("Date")
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		_, _ = w.Write(r.body)
	})
}

// newLoadClient is the load generator's client: keep-alive connections for
// every worker, and no transparent decompression (the bytes are counted,
// not decoded).
func newLoadClient(tb testing.TB) *http.Client {
	tb.Helper()
	tr := &http.Transport{MaxIdleConns: 4 * loadWorkers, MaxIdleConnsPerHost: 2 * loadWorkers,
		DisableCompression: true, IdleConnTimeout: time.Minute}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// commandDelta is how many more calls of each command Redis counted in
// after than in before, leaving out the measurement's own INFO and
// connection set-up (overhead).
func commandDelta(before, after, overhead map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for cmd, n := range after {
		if extra := n - before[cmd] - overhead[cmd]; extra != 0 {
			d[cmd] = extra
		}
	}
	return d
}

// commandStats returns INFO commandstats now, and what one such call adds
// to the counts by itself: the difference between two calls in a row.
func commandStats(tb testing.TB, rds *redistest.Server) (now, overhead map[string]int64) {
	tb.Helper()
	first := rds.CommandStats(tb)
	now = rds.CommandStats(tb)
	return now, commandDelta(first, now, nil)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestSummaryServesWithoutRedis: 2,000 requests for summary.json, served
// by tocsin from a snapshot of a real Redis, add no command to Redis. No
// timing is asserted: speed is BenchmarkSummaryLoad's business.
func TestSummaryServesWithoutRedis(t *testing.T) {
	t.Parallel()
	env := newLoadEnv(t)
	c := newLoadClient(t)

	var sp struct {
		Components []json.RawMessage `json:"components"`
		Incidents  []json.RawMessage `json:"incidents"`
	}
	if err := json.Unmarshal(fetch(t, c, env.tocsin+summaryPath, "identity").body, &sp); err != nil {
		t.Fatal(err)
	}
	if len(sp.Components) != loadComponents || len(sp.Incidents) != loadOpen {
		t.Fatalf("summary has %d components and %d unresolved incidents, want %d and %d",
			len(sp.Components), len(sp.Incidents), loadComponents, loadOpen)
	}

	before, overhead := commandStats(t, env.redis)
	const requests, workers = 2000, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			v := variants[w%len(variants)]
			for range requests / workers {
				if _, err := get(c, env.tocsin+summaryPath, v.acceptEncoding); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after := env.redis.CommandStats(t)
	if d := commandDelta(before, after, overhead); len(d) != 0 {
		t.Errorf("%d requests made %d Redis commands: %v", requests, sum(d), d)
	}
}

// BenchmarkSummaryLoad loads tocsin's summary.json and a plain handler
// writing the same bytes, in turn, over real keep-alive connections on
// loopback. Each iteration is four loadRound turns, tocsin, plain, plain,
// tocsin; it reports both request rates over all turns, the median of the
// iterations' ratios of tocsin's rate to the plain handler's, and the Redis
// commands per tocsin request (INFO commandstats around the whole load).
//
//	go test -run '^$' -bench BenchmarkSummaryLoad -benchtime 20x ./status/
func BenchmarkSummaryLoad(b *testing.B) {
	env := newLoadEnv(b)
	c := newLoadClient(b)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			tocsinURL := env.tocsin + summaryPath
			want := fetch(b, c, tocsinURL, v.acceptEncoding)
			if (v.name == "gzip") != (want.encoding == "gzip") {
				b.Fatalf("Accept-Encoding %s answered with Content-Encoding %q", v.acceptEncoding, want.encoding)
			}
			plainURL := serve(b, plainHandler(want), env.cfg.Server) + summaryPath
			if got := fetch(b, c, plainURL, v.acceptEncoding); string(got.body) != string(want.body) ||
				got.ctype != want.ctype || got.encoding != want.encoding {
				b.Fatal("the plain handler's answer differs from tocsin's")
			}
			for _, u := range []string{tocsinURL, plainURL} { // warm up: connections, caches
				load(b, c, u, v.acceptEncoding, len(want.body), loadRound/5)
			}

			before, overhead := commandStats(b, env.redis)
			var tocsin, plain loadResult
			var ratios []float64
			for b.Loop() {
				// ABBA: neither server always gets the first, warmer or
				// more disturbed, turn.
				var t, p loadResult
				t.add(load(b, c, tocsinURL, v.acceptEncoding, len(want.body), loadRound))
				p.add(load(b, c, plainURL, v.acceptEncoding, len(want.body), loadRound))
				p.add(load(b, c, plainURL, v.acceptEncoding, len(want.body), loadRound))
				t.add(load(b, c, tocsinURL, v.acceptEncoding, len(want.body), loadRound))
				tocsin.add(t)
				plain.add(p)
				ratios = append(ratios, t.rate()/p.rate())
			}
			b.StopTimer()
			cmds := commandDelta(before, env.redis.CommandStats(b), overhead)
			if len(cmds) != 0 {
				b.Logf("Redis commands during the load: %v", cmds)
			}
			slices.Sort(ratios)
			b.ReportMetric(0, "ns/op") // an iteration is four fixed-length turns
			b.ReportMetric(tocsin.rate(), "tocsin-rps")
			b.ReportMetric(plain.rate(), "plain-rps")
			// The median: a burst of other work on the machine during one
			// turn moves it less than it moves the totals' ratio.
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
			b.ReportMetric(float64(sum(cmds))/float64(tocsin.requests), "redis-cmds/req")
		})
	}
}

// loadResult is how many requests were answered in how long.
type loadResult struct {
	requests int64
	elapsed  time.Duration
}

func (r *loadResult) add(o loadResult) {
	r.requests, r.elapsed = r.requests+o.requests, r.elapsed+o.elapsed
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// load runs loadWorkers clients against url for d, each sending its next
// request as soon as it has read the last answer to the end. It fails the
// benchmark on any error, status other than 200 or body of another size.
func load(b *testing.B, c *http.Client, url, acceptEncoding string, size int, d time.Duration) loadResult {
	b.Helper()
	var stop atomic.Bool
	var total atomic.Int64
	errs := make(chan error, loadWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for range loadWorkers {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Accept-Encoding", acceptEncoding)
			var n int64
			defer func() { total.Add(n) }()
			for !stop.Load() {
				if err := loadOnce(c, req, size); err != nil {
					errs <- err
					return
				}
				n++
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		b.Fatal(err)
	}
	return loadResult{requests: total.Load(), elapsed: elapsed}
}

// loadOnce sends req and reads the answer to the end, so the connection
// goes back to the pool.
func loadOnce(c *http.Client, req *http.Request, size int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK || n != int64(size):
		return fmt.Errorf("GET %s: %d with %d bytes, want 200 with %d", req.URL, resp.StatusCode, n, size)
	}
	return nil
}
