//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The slowloris attack of issue 6: slowConns connections each send a
// request line and headers a byte at a time and never finish them.
const (
	slowConns = 2000
	// slowHeaderTimeout is server.read_header_timeout in the test's config.
	slowHeaderTimeout = 2 * time.Second
	// slowCloseMargin is how late after slowHeaderTimeout the server may
	// close a slow connection: a race-built daemon on 2 shared cores closes
	// 2,000 of them at once.
	slowCloseMargin = 3 * time.Second
	// slowTrickle is how often each slow connection sends one more byte.
	slowTrickle = time.Second
	// promptly is how long a normal client may wait for /api/v2/status.json.
	promptly = time.Second
	// slowHeaderPrefix is what every slow connection sends at once; the
	// value of X-Slow then grows a byte per slowTrickle, never ending the
	// headers.
	slowHeaderPrefix = "GET /api/v2/status.json HTTP/1.1\r\nHost: tocsin.test\r\nUser-Agent: slowloris\r\nX-Slow: "
)

// startLimitedTocsin runs the daemon on the embedded store with a short
// read_header_timeout and a small max_header_bytes.
func startLimitedTocsin(t *testing.T) *proc {
	t.Helper()
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server:
  listen: "127.0.0.1:0"
  read_header_timeout: %s
  read_timeout: 4s
  max_header_bytes: 8192
components: [{id: web, name: Web}]
`, slowHeaderTimeout))
	return startTocsin(t, nil, "run", "--config", cfg)
}

// TestSlowlorisDoesNotStarveClients holds 2,000 connections that never
// finish their headers. A normal client, on a new connection each time,
// gets /api/v2/status.json within a second throughout; the daemon closes
// every slow connection, without a response, once read_header_timeout has
// passed, and its open file count comes back down.
//
// Not parallel: the latency bound is about the daemon, not about what other
// tests of this package do with the same two cores.
func TestSlowlorisDoesNotStarveClients(t *testing.T) {
	// Each side (this process, the daemon) holds one descriptor per slow
	// connection.
	raiseFileLimit(t, slowConns+512)
	p := startLimitedTocsin(t)
	if code, _ := p.get("/api/v2/status.json"); code != http.StatusOK {
		t.Fatalf("before the attack: status.json = %d", code)
	}
	fdsBefore := openFDs(t, p)

	a := &slowloris{addr: strings.TrimPrefix(p.base, "http://"), conns: make([]atomic.Pointer[slowConn], slowConns)}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var bg sync.WaitGroup
	var reqs []normalRequest
	bg.Go(func() { reqs = normalClient(ctx, p.base, &a.open) })
	bg.Go(func() { a.trickle(ctx) })

	dialStart := time.Now()
	if err := a.dialAll(); err != nil {
		stop()
		bg.Wait()
		a.closeAll()
		t.Fatal(err)
	}
	dialTime := time.Since(dialStart)
	fdsDuring := openFDs(t, p)
	a.readers.Wait() // every slow connection has been closed or timed out
	stop()
	bg.Wait()
	a.closeAll()

	checkSlowConns(t, a.all())
	t.Logf("%d slow connections dialled in %s, at most %d open at once", slowConns, dialTime.Round(time.Millisecond), a.peak.Load())
	if got := a.peak.Load(); got != slowConns {
		t.Errorf("at most %d slow connections were open at once, want all %d (dialling took %s)", got, slowConns, dialTime)
	}
	checkNormalRequests(t, reqs)

	// The daemon's side: its descriptors for the slow connections are gone.
	var fdsAfter int
	eventually(t, 5*time.Second, "the daemon's open files back to normal", func() bool {
		fdsAfter = openFDs(t, p)
		return fdsAfter <= fdsBefore+20
	})
	t.Logf("daemon open files: %d before, %d once all slow connections were dialled, %d after",
		fdsBefore, fdsDuring, fdsAfter)
}

// TestOversizedHeaderGets431: a request whose headers exceed
// server.max_header_bytes gets 431; one just under it is served.
func TestOversizedHeaderGets431(t *testing.T) {
	t.Parallel()
	p := startLimitedTocsin(t)
	tests := []struct {
		name string
		size int
		want int
	}{
		{"under the limit", 7000, http.StatusOK},
		// net/http allows 4096 bytes above MaxHeaderBytes (8192).
		{"over the limit", 8192 + 4096 + 1, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, p.base+"/api/v2/status.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", strings.Repeat("b", tt.size))
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tt.want {
				t.Errorf("%d-byte header: %d, want %d", tt.size, resp.StatusCode, tt.want)
			}
		})
	}
}

// raiseFileLimit makes sure this process, and the daemon it starts, may
// open need files. It raises the soft limit to the hard one if needed and
// skips the test only if that is not enough.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < need {
		lim.Cur = lim.Max
	}
	// Set it even when unchanged: Go hands children the soft limit this
	// process started with unless Setrlimit was called.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit(RLIMIT_NOFILE, %d): %v", lim.Cur, err)
	}
	if lim.Cur < need {
		t.Skipf("needs %d open files per process; RLIMIT_NOFILE is %d and its hard limit %d cannot be exceeded "+
			"(raise it, e.g. ulimit -Hn %d, and run again)", need, lim.Cur, lim.Max, need)
	}
}

// slowloris is the attack: the slow connections and how many are open.
type slowloris struct {
	addr string
	// conns are published as they are dialled: the trickle reads them
	// meanwhile.
	conns   []atomic.Pointer[slowConn]
	open    atomic.Int64 // dialled and not yet seen closed
	peak    atomic.Int64
	readers sync.WaitGroup
}

// slowConn is one slow connection and what became of it.
type slowConn struct {
	conn   net.Conn
	dialed time.Time // just before the connect
	done   atomic.Bool
	// Set by the reader before done.
	ended time.Time
	got   int   // bytes the server sent
	err   error // what ended the read
}

// dialAll opens every slow connection, 32 at a time, sends each the start
// of a request and starts a reader that waits for the server to close it.
func (a *slowloris) dialAll() error {
	idx := make(chan int)
	errs := make(chan error, slowConns)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range idx {
				if err := a.dial(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range slowConns {
		idx <- i
	}
	close(idx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (a *slowloris) dial(i int) error {
	// Taken before the connect: the server's deadline starts later, when
	// it begins reading, which may be before the dialler wakes up.
	start := time.Now()
	conn, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("slow connection %d: %w", i, err)
	}
	sc := &slowConn{conn: conn, dialed: start}
	a.conns[i].Store(sc)
	n := a.open.Add(1)
	for old := a.peak.Load(); n > old && !a.peak.CompareAndSwap(old, n); old = a.peak.Load() {
	}
	a.readers.Go(func() {
		defer a.open.Add(-1)
		defer sc.done.Store(true)
		// The deadline only bounds the test: a read that hits it means
		// the server did not close the connection in time.
		_ = conn.SetReadDeadline(sc.dialed.Add(slowHeaderTimeout + slowCloseMargin))
		var buf [512]byte
		for {
			n, err := conn.Read(buf[:])
			sc.got += n
			if err != nil {
				sc.ended, sc.err = time.Now(), err
				return
			}
		}
	})
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, slowHeaderPrefix); err != nil {
		return fmt.Errorf("slow connection %d: write: %w", i, err)
	}
	return nil
}

// trickle sends one more byte of the X-Slow header on every open slow
// connection each slowTrickle, until ctx is done.
func (a *slowloris) trickle(ctx context.Context) {
	tick := time.NewTicker(slowTrickle)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i := range a.conns {
			sc := a.conns[i].Load()
			if sc == nil || sc.done.Load() {
				continue
			}
			_ = sc.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = sc.conn.Write([]byte{'a'}) // fails once the server has closed it
		}
	}
}

// all returns every slow connection, nil for one not dialled.
func (a *slowloris) all() []*slowConn {
	out := make([]*slowConn, len(a.conns))
	for i := range a.conns {
		out[i] = a.conns[i].Load()
	}
	return out
}

func (a *slowloris) closeAll() {
	for _, sc := range a.all() {
		if sc != nil {
			_ = sc.conn.Close()
		}
	}
}

// checkSlowConns asserts that the server closed every slow connection
// without a response, after read_header_timeout and at most
// slowCloseMargin later. One line per kind of problem, with a count.
func checkSlowConns(t *testing.T, conns []*slowConn) {
	t.Helper()
	problems := map[string]int{}
	example := map[string]string{}
	note := func(kind string, format string, args ...any) {
		if problems[kind]++; problems[kind] == 1 {
			example[kind] = fmt.Sprintf(format, args...)
		}
	}
	var lifetimes []time.Duration
	for i, sc := range conns {
		if sc == nil {
			note("not dialled", "connection %d", i)
			continue
		}
		life := sc.ended.Sub(sc.dialed)
		switch {
		case errors.Is(sc.err, io.EOF), errors.Is(sc.err, syscall.ECONNRESET):
			lifetimes = append(lifetimes, life)
		case errors.Is(sc.err, os.ErrDeadlineExceeded):
			note("still open", "connection %d still open %s after it was dialled", i, life.Round(time.Millisecond))
			continue
		default:
			note("other error", "connection %d: %v", i, sc.err)
			continue
		}
		if sc.got > 0 {
			note("response", "connection %d: the server sent %d bytes before closing", i, sc.got)
		}
		// The server's deadline starts when it begins reading, after the
		// connect started, so a close by the timeout is never sooner
		// (10ms of slack for the clock reads).
		if life < slowHeaderTimeout-10*time.Millisecond {
			note("closed early", "connection %d closed %s after it was dialled, before read_header_timeout (%s)",
				i, life.Round(time.Millisecond), slowHeaderTimeout)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(problems)) {
		t.Errorf("%d of %d slow connections %s; e.g. %s", problems[kind], len(conns), kind, example[kind])
	}
	if len(lifetimes) > 0 {
		slices.Sort(lifetimes)
		t.Logf("slow connections closed by the server after %s (min) / %s (median) / %s (max)",
			lifetimes[0].Round(time.Millisecond), lifetimes[len(lifetimes)/2].Round(time.Millisecond),
			lifetimes[len(lifetimes)-1].Round(time.Millisecond))
	}
}

// normalRequest is one GET of the normal client.
type normalRequest struct {
	open    int64 // slow connections open when it started
	elapsed time.Duration
	code    int
	err     error
}

// normalClient GETs /api/v2/status.json every 100ms on a new connection,
// as a visitor would, until ctx is done.
func normalClient(ctx context.Context, base string, open *atomic.Int64) []normalRequest {
	// The timeout is generous so that a slow answer is measured, not cut.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var out []normalRequest
	for ctx.Err() == nil {
		r := normalRequest{open: open.Load()}
		start := time.Now()
		resp, err := c.Get(base + "/api/v2/status.json")
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			r.code = resp.StatusCode
			if err == nil && !strings.Contains(string(body), `"indicator"`) {
				err = fmt.Errorf("not a status: %.100s", body)
			}
		}
		r.elapsed, r.err = time.Since(start), err
		out = append(out, r)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return out
}

// checkNormalRequests asserts every request succeeded promptly, and that
// some were made while all slow connections were open.
func checkNormalRequests(t *testing.T, reqs []normalRequest) {
	t.Helper()
	underFullAttack := 0
	var worst time.Duration
	for i, r := range reqs {
		worst = max(worst, r.elapsed)
		if r.open == slowConns {
			underFullAttack++
		}
		switch {
		case r.err != nil:
			t.Errorf("request %d (%d slow connections open): %v after %s", i, r.open, r.err, r.elapsed)
		case r.code != http.StatusOK:
			t.Errorf("request %d (%d slow connections open): status %d", i, r.open, r.code)
		case r.elapsed > promptly:
			t.Errorf("request %d (%d slow connections open): took %s, want at most %s", i, r.open, r.elapsed, promptly)
		}
	}
	t.Logf("normal client: %d requests, %d with all %d slow connections open, slowest %s",
		len(reqs), underFullAttack, slowConns, worst.Round(time.Millisecond))
	if underFullAttack == 0 {
		t.Errorf("no request was made while all %d slow connections were open", slowConns)
	}
}

// openFDs reads process_open_fds from the daemon's /metrics.
func openFDs(t *testing.T, p *proc) int {
	t.Helper()
	code, body := p.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_open_fds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("process_open_fds %q: %v", v, err)
			}
			return int(f)
		}
	}
	t.Fatal("/metrics has no process_open_fds")
	return 0
}
