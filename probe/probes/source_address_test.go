package probes

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/faultproxy"
	"github.com/tocsin/tocsin/internal/mtatest"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// TestProbesFromSourceAddress: with Options.SourceAddr every prober's
// connections come from that address (scheduler.source_address), as a
// server sees them: HTTP, TCP, SMTP (a real exim), and the queue sources'
// HTTP and Redis clients (a real redis-server). Each server sits behind a
// proxy that records its clients' addresses; the probe still succeeds.
func TestProbesFromSourceAddress(t *testing.T) {
	t.Parallel()
	const source = "127.0.0.2"
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"depth": 3}`))
	}))
	t.Cleanup(web.Close)
	mta := mtatest.Start(t)
	rds := redistest.Start(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tcp.Close() })
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	for _, tc := range []struct {
		name   string
		target string // what the proxy forwards to
		check  func(addr string) config.Check
	}{
		{"http", web.Listener.Addr().String(), func(addr string) config.Check {
			return config.Check{Name: "web", Type: "http", HTTP: &config.HTTPCheck{URL: config.Secret("http://" + addr + "/"), Method: "GET"}}
		}},
		{"tcp", tcp.Addr().String(), func(addr string) config.Check {
			return config.Check{Name: "port", Type: "tcp", TCP: &config.TCPCheck{Address: addr}}
		}},
		{"smtp", mta.Addr(), func(addr string) config.Check {
			return config.Check{Name: "mx", Type: "smtp", SMTP: &config.SMTPCheck{Address: addr}}
		}},
		{"queue over HTTP", web.Listener.Addr().String(), func(addr string) config.Check {
			return config.Check{Name: "q", Type: "queue", Queue: &config.QueueCheck{Source: "http_json",
				URL: config.Secret("http://" + addr + "/"), JSONPath: "depth", DegradedDepth: 100, DownDepth: 1000}}
		}},
		{"queue in Redis", rds.Addr(), func(addr string) config.Check {
			return config.Check{Name: "list", Type: "queue", Queue: &config.QueueCheck{Source: "redis_list",
				RedisURL: config.Secret("redis://" + addr + "/0"), Key: "jobs", DegradedDepth: 100, DownDepth: 1000}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy := faultproxy.Start(t, tc.target)
			p, err := New(tc.check(proxy.Addr()), probe.Options{SourceAddr: net.ParseIP(source)})
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := p.(interface{ Close() error }); ok {
				t.Cleanup(func() { _ = c.Close() })
			}
			res := probetest.Within(t, p.Probe, 5*time.Second)
			if res.Status != probe.StatusUp {
				t.Fatalf("probe from %s: %s %s %s", source, res.Status, res.Reason, res.Message)
			}
			// A TCP probe is up once the kernel completes the handshake,
			// which may be before the proxy accepts and records it.
			peers := proxy.Peers()
			for deadline := time.Now().Add(5 * time.Second); len(peers) == 0 && time.Now().Before(deadline); peers = proxy.Peers() {
				time.Sleep(10 * time.Millisecond)
			}
			if len(peers) == 0 || slices.ContainsFunc(peers, func(ip string) bool { return ip != source }) {
				t.Errorf("the server saw connections from %v, want only %s", peers, source)
			}
		})
	}
}
