package probe

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// The tests in this file that measure time or memory don't call t.Parallel:
// they run alone, before the parallel tests resume.

// TestHTTPHugeBodyBounded streams 1 GiB and checks the probe reads only
// max_body_bytes, allocates little and returns promptly.
func TestHTTPHugeBodyBounded(t *testing.T) {
	const size = 1 << 30
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1073741824")
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the probe hung up, as it should
			}
		}
	}), nil)
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(srv.URL), BodyContains: "needle"}, Options{})

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	res := probetest.Within(t, h.Probe, 30*time.Second)
	took := time.Since(start)
	runtime.ReadMemStats(&after)

	probetest.CheckResult(t, res, StatusDown, ReasonBody, "body truncated at 1048576 bytes")
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB in %v", alloc>>10, took)
	if alloc > 64<<20 {
		t.Errorf("probe allocated %d MiB, want well under 64 MiB", alloc>>20)
	}
	if took > 5*time.Second {
		t.Errorf("probe took %v, want it to stop after the cap", took)
	}
}

// TestHTTPNeverAnswers checks a server that accepts and stays silent fails
// at the deadline.
func TestHTTPNeverAnswers(t *testing.T) {
	addr := probetest.RawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://" + addr + "/")}, Options{})
	const timeout = 500 * time.Millisecond
	res := probetest.Within(t, h.Probe, timeout)
	probetest.CheckResult(t, res, StatusDown, ReasonTimeout, "timed out waiting for response headers after 500ms")
	probetest.CheckStoppedAtDeadline(t, res.Duration, timeout, DefaultTimeout)
	if !hasPhase(res, "connect") || hasPhase(res, "first_byte") {
		t.Errorf("Phases = %v, want connect and no first_byte", res.Phases)
	}
}

// TestHTTPEndlessBodyStopsAtDeadline checks a body that trickles forever,
// never reaching the cap, is cut off by the deadline.
func TestHTTPEndlessBodyStopsAtDeadline(t *testing.T) {
	addr := probetest.RawServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		for {
			if _, err := io.WriteString(c, "tick\n"); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://" + addr + "/")}, Options{})
	const timeout = 300 * time.Millisecond
	res := probetest.Within(t, h.Probe, timeout)
	probetest.CheckResult(t, res, StatusDown, ReasonTimeout, "timed out reading the response body")
	probetest.CheckStoppedAtDeadline(t, res.Duration, timeout, DefaultTimeout)
	if res.StatusCode != 200 || !hasPhase(res, "first_byte") {
		t.Errorf("StatusCode = %d, Phases = %v; want 200 and first_byte", res.StatusCode, res.Phases)
	}
}

// TestHTTPBrokenServers covers replies no real server sends.
func TestHTTPBrokenServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   string // written after the request is read, then the connection closes
		reason  Reason
		message string
	}{
		{name: "closes without a word", reply: "", reason: ReasonProtocol, message: "connection closed"},
		{name: "headers cut mid-line", reply: "HTTP/1.1 200 OK\r\nContent-Ty", reason: ReasonProtocol,
			message: "malformed MIME header"},
		{name: "headers cut after a line", reply: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
			reason: ReasonProtocol, message: "connection closed before a complete response"},
		{name: "short body", reply: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
			reason: ReasonProtocol, message: "connection closed before a complete response"},
		{name: "not HTTP", reply: "SSH-2.0-OpenSSH_9.6\r\n", reason: ReasonProtocol, message: "malformed HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := probetest.RawServer(t, func(c net.Conn) {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, tt.reply)
			})
			h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://" + addr + "/")}, Options{})
			probetest.CheckResult(t, probetest.Within(t, h.Probe, 5*time.Second), StatusDown, tt.reason, tt.message)
		})
	}
}

// TestHTTPConnectionRefused dials a port nobody listens on.
func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://" + probetest.DeadPort(t) + "/")}, Options{})
	res := probetest.Within(t, h.Probe, 5*time.Second)
	probetest.CheckResult(t, res, StatusDown, ReasonConnect, "connection refused")
	if res.StatusCode != 0 {
		t.Errorf("StatusCode = %d, want 0", res.StatusCode)
	}
}

// TestHTTPDNS resolves through a fake name server on 127.0.0.1.
func TestHTTPDNS(t *testing.T) {
	t.Parallel()
	srv := probetest.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolver := probetest.FakeDNS(t, map[string]net.IP{"app.tocsin.test": net.IPv4(127, 0, 0, 1)})

	t.Run("unresolvable", func(t *testing.T) {
		t.Parallel()
		h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://no-such-host.invalid:" + port + "/")},
			Options{Resolver: resolver})
		res := probetest.Within(t, h.Probe, 5*time.Second)
		probetest.CheckResult(t, res, StatusDown, ReasonDNS, "dns lookup failed: no such host")
	})
	t.Run("resolved", func(t *testing.T) {
		t.Parallel()
		h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://app.tocsin.test:" + port + "/")},
			Options{Resolver: resolver})
		res := probetest.Within(t, h.Probe, 5*time.Second)
		probetest.CheckResult(t, res, StatusUp, ReasonNone, "")
		for _, p := range []string{"dns", "connect", "first_byte"} {
			if !hasPhase(res, p) {
				t.Errorf("Phases = %v, want %s", res.Phases, p)
			}
		}
	})
}

// TestHTTPMessagesHideURL checks that credentials and tokens in the URL
// never reach a message, whatever the failure.
func TestHTTPMessagesHideURL(t *testing.T) {
	t.Parallel()
	const secrets = "user:canarypass@"
	const query = "?token=canarytoken"
	ok := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			// Echo the URL, query and all, back in the Location header.
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		case "/bad-location":
			w.Header().Set("Location", "http://[::1%zz/?token=canarytoken")
			w.WriteHeader(http.StatusFound)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}), nil)
	self := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	tlsSrv := probetest.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), &self.Cert)
	silent := probetest.RawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	broken := probetest.RawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = http.ReadRequest(bufio.NewReader(c))
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Len")
	})
	host := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }
	resolver := probetest.FakeDNS(t, nil)
	urls := map[string]string{
		"status":   "http://" + secrets + host(ok.URL) + "/503" + query,
		"body":     "http://" + secrets + host(ok.URL) + "/" + query,
		"redirect": "http://" + secrets + host(ok.URL) + "/loop" + query,
		"location": "http://" + secrets + host(ok.URL) + "/bad-location" + query,
		"tls":      "https://" + secrets + host(tlsSrv.URL) + "/" + query,
		"timeout":  "http://" + secrets + silent + "/" + query,
		"protocol": "http://" + secrets + broken + "/" + query,
		"connect":  "http://" + secrets + probetest.DeadPort(t) + "/" + query,
		"dns":      "http://" + secrets + "no-such-host.invalid/" + query,
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(u), BodyContains: "needle"},
				Options{Resolver: resolver})
			res := probetest.Within(t, h.Probe, 300*time.Millisecond)
			t.Logf("%s %s: %s", res.Status, res.Reason, res.Message)
			if res.Status != StatusDown {
				t.Errorf("Status = %s, want down", res.Status)
			}
			for _, canary := range []string{"canarypass", "canarytoken", "user:"} {
				if strings.Contains(res.Message, canary) {
					t.Errorf("Message %q leaks %q", res.Message, canary)
				}
			}
		})
	}
}
