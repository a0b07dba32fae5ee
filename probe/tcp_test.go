package probe

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// pingServer answers "PING" with "PONG" and anything else with "ERR", one
// line at a time, after delay. It greets with greeting, if set.
func pingServer(greeting string, delay time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		if greeting != "" {
			if _, err := io.WriteString(c, greeting); err != nil {
				return
			}
		}
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			time.Sleep(delay)
			answer := "ERR\r\n"
			if strings.TrimSpace(line) == "PING" {
				answer = "PONG\r\n"
			}
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
	}
}

// tlsServer serves handle over TLS with cert.
func tlsServer(cert probetest.Cert, handle func(net.Conn)) func(net.Conn) {
	return func(c net.Conn) {
		tc := tls.Server(c, cert.ServerConfig())
		if tc.Handshake() != nil {
			c.Close()
			return
		}
		handle(tc)
	}
}

// TestTCPProbe covers the verdicts of plain and TLS servers.
func TestTCPProbe(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := probetest.NewCert(t, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	soon := probetest.NewCert(t, now.Add(-time.Hour), now.Add(2*24*time.Hour+time.Hour))
	expired := probetest.NewCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	ping := pingServer("", 0)
	tests := []struct {
		name    string
		handle  func(net.Conn)
		cfg     config.TCPCheck
		status  Status
		reason  Reason
		message string
		phases  []string
		warning string    // the certificate warning's message; "" for none
		expiry  time.Time // the leaf's expiry the result must carry; zero: not checked
	}{
		{name: "connect only", handle: ping, status: StatusUp, phases: []string{"connect"}},
		{name: "send and expect", handle: ping, cfg: config.TCPCheck{Send: "PING\r\n", Expect: "^PONG\r\n$"},
			status: StatusUp, phases: []string{"connect", "exchange"}},
		{name: "send only", handle: ping, cfg: config.TCPCheck{Send: "PING\r\n"}, status: StatusUp,
			phases: []string{"connect", "exchange"}},
		{name: "expect a banner", handle: pingServer("SSH-2.0-OpenSSH_9.6\r\n", 0), cfg: config.TCPCheck{Expect: "^SSH-2\\.0-"},
			status: StatusUp},
		{name: "mismatch", handle: func(c net.Conn) {
			defer c.Close()
			if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				_, _ = io.WriteString(c, "-ERR nope\r\n\x00")
			}
		},
			cfg: config.TCPCheck{Send: "PING\r\n", Expect: "^\\+PONG"}, status: StatusDown, reason: ReasonProtocol,
			message: `expected /^\+PONG/ not seen before the connection closed; got "-ERR nope\r\n\x00"`},
		{name: "closed with the request unread", handle: func(c net.Conn) { time.Sleep(20 * time.Millisecond); c.Close() },
			cfg: config.TCPCheck{Send: "PING\r\n", Expect: "PONG"}, status: StatusDown, reason: ReasonProtocol,
			message: "expected /PONG/ not seen"}, // at EOF, or at the reset the unread request causes
		{name: "closed at once", handle: func(c net.Conn) { c.Close() }, cfg: config.TCPCheck{Expect: "^220"},
			status: StatusDown, reason: ReasonProtocol, message: "expected /^220/ not seen before the connection closed; got nothing"},
		{name: "endless without a match", handle: func(c net.Conn) { probetest.Flood(c, "x"); c.Close() },
			cfg: config.TCPCheck{Expect: "PONG"}, status: StatusDown, reason: ReasonProtocol,
			message: `expected /PONG/ not seen in the first 64 KiB; got "xxxxxxxx`},
		{name: "slow", handle: pingServer("", 60*time.Millisecond),
			cfg:    config.TCPCheck{Send: "PING\n", Expect: "PONG", DegradedLatency: 20 * time.Millisecond},
			status: StatusDegraded, reason: ReasonLatency, message: "(degraded above 20ms)"},
		{name: "tls trusted", handle: tlsServer(valid, ping),
			cfg:    config.TCPCheck{TLS: true, TLSConfig: config.TLS{CAFile: valid.PEMFile}, Send: "PING\n", Expect: "PONG"},
			status: StatusUp, phases: []string{"connect", "tls", "exchange"}},
		{name: "tls untrusted", handle: tlsServer(valid, ping), cfg: config.TCPCheck{TLS: true}, status: StatusDown,
			reason: ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "tls insecure", handle: tlsServer(valid, ping),
			cfg: config.TCPCheck{TLS: true, TLSConfig: config.TLS{InsecureSkipVerify: true}}, status: StatusUp},
		{name: "tls against plain", handle: pingServer("hello\r\n", 0), cfg: config.TCPCheck{TLS: true},
			status: StatusDown, reason: ReasonTLS, message: "tls: "},
		{name: "tls expiring", handle: tlsServer(soon, ping),
			cfg:    config.TCPCheck{TLS: true, TLSConfig: config.TLS{CAFile: soon.PEMFile, CertExpiryWarning: 7 * 24 * time.Hour}},
			status: StatusUp, warning: "certificate expires in 2 days", expiry: soon.NotAfter},
		{name: "tls expiring and slow", handle: tlsServer(soon, pingServer("", 60*time.Millisecond)),
			cfg: config.TCPCheck{TLS: true, TLSConfig: config.TLS{CAFile: soon.PEMFile, CertExpiryWarning: 7 * 24 * time.Hour},
				Send: "PING\n", Expect: "PONG", DegradedLatency: 20 * time.Millisecond},
			status: StatusDegraded, reason: ReasonLatency, message: "(degraded above 20ms)", warning: "certificate expires in 2 days"},
		{name: "tls expired", handle: tlsServer(expired, ping),
			cfg:    config.TCPCheck{TLS: true, TLSConfig: config.TLS{CAFile: expired.PEMFile, CertExpiryWarning: 7 * 24 * time.Hour}},
			status: StatusDown, reason: ReasonTLS, message: "certificate has expired", expiry: expired.NotAfter},
		{name: "tls expired, not verified", handle: tlsServer(expired, ping),
			cfg:    config.TCPCheck{TLS: true, TLSConfig: config.TLS{InsecureSkipVerify: true}},
			status: StatusDown, reason: ReasonTLS, message: "certificate expired 1 day ago", expiry: expired.NotAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Address = probetest.RawServer(t, tt.handle)
			res := probetest.Within(t, mustTCP(t, tt.cfg, Options{}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			probetest.CheckWarning(t, res, tt.warning)
			if tt.phases != nil && !slices.Equal(probetest.PhaseNames(t, res), tt.phases) {
				t.Errorf("phases = %v, want %v", probetest.PhaseNames(t, res), tt.phases)
			}
			if tt.cfg.TLS && res.Status != StatusDown && res.CertNotAfter.IsZero() {
				t.Errorf("CertNotAfter not set")
			}
			if !tt.expiry.IsZero() && !res.CertNotAfter.Equal(tt.expiry) {
				t.Errorf("CertNotAfter = %v, want %v", res.CertNotAfter, tt.expiry)
			}
		})
	}
}

// TestTCPTimeouts checks silent servers fail at the deadline, with what they
// did send. Not parallel: it measures time.
func TestTCPTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(net.Conn)
		cfg     config.TCPCheck
		message string
	}{
		{name: "silent", handle: func(c net.Conn) { _, _ = io.Copy(io.Discard, c) },
			cfg: config.TCPCheck{Send: "PING\r\n", Expect: "PONG"}, message: "timed out waiting for /PONG/ after 300ms; got nothing"},
		{name: "partial", handle: func(c net.Conn) { _, _ = io.WriteString(c, "PO"); _, _ = io.Copy(io.Discard, c) },
			cfg: config.TCPCheck{Expect: "PONG"}, message: `timed out waiting for /PONG/ after 300ms; got "PO"`},
		{name: "no TLS handshake", handle: func(c net.Conn) { _, _ = io.Copy(io.Discard, c) },
			cfg: config.TCPCheck{TLS: true}, message: "timed out in the TLS handshake after 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Address = probetest.RawServer(t, tt.handle)
			const timeout = 300 * time.Millisecond
			res := probetest.Within(t, mustTCP(t, tt.cfg, Options{}).Probe, timeout)
			probetest.CheckResult(t, res, StatusDown, ReasonTimeout, tt.message)
			probetest.CheckStoppedAtDeadline(t, res.Duration, timeout, DefaultTimeout)
		})
	}
}

// TestTCPConnect covers failures to connect.
func TestTCPConnect(t *testing.T) {
	t.Parallel()
	resolver := probetest.FakeDNS(t, nil)
	for addr, want := range map[string]Reason{probetest.DeadPort(t): ReasonConnect, "db.nowhere.invalid:5432": ReasonDNS} {
		res := probetest.Within(t, mustTCP(t, config.TCPCheck{Address: addr}, Options{Resolver: resolver}).Probe, 5*time.Second)
		if res.Status != StatusDown || res.Reason != want {
			t.Errorf("%s: got %s/%s (%q), want down/%s", addr, res.Status, res.Reason, res.Message, want)
		}
	}
}

// TestNewTCPErrors checks every configuration problem is reported.
func TestNewTCPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.TCPCheck
		want []string
	}{
		{"no address", config.TCPCheck{}, []string{"tcp.address: is required"}},
		{"port zero", config.TCPCheck{Address: "db:0"}, []string{`tcp.address: port "0" is not a number in 1-65535`}},
		{"tls_config without tls", config.TCPCheck{Address: "db:5432", TLSConfig: config.TLS{ServerName: "db"}},
			[]string{"tcp.tls_config: needs tls: true"}},
		{"bad ca", config.TCPCheck{Address: "db:5432", TLS: true, TLSConfig: config.TLS{CAFile: "/nonexistent"}},
			[]string{"tcp.tls_config.ca_file: open /nonexistent"}},
		{"bad regex", config.TCPCheck{Address: "db:5432", Expect: "a{2,1}"}, []string{"tcp.expect: error parsing regexp"}},
		{"negative latency", config.TCPCheck{Address: "db:5432", DegradedLatency: -1},
			[]string{"tcp.degraded_latency: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewTCP(tt.cfg, Options{})
			if err == nil {
				t.Fatalf("NewTCP succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// mustTCP builds a prober or fails the test.
func mustTCP(t *testing.T, c config.TCPCheck, o Options) *TCP {
	t.Helper()
	p, err := NewTCP(c, o)
	if err != nil {
		t.Fatalf("NewTCP: %v", err)
	}
	return p
}
