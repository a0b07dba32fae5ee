package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// TestMain fails the package if goroutines outlive the tests: every probe
// must leave nothing running behind it.
func TestMain(m *testing.M) {
	baseline := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if err := waitGoroutines(baseline, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this process runs go test -fuzz, as coordinator
// or worker: the fuzzing engine leaves goroutines of its own behind (the
// os/signal loop), which would fail the leak check.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// waitGoroutines polls until at most n goroutines run, or reports the stacks
// of the survivors after timeout.
func waitGoroutines(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutine leak: %d running, want at most %d\n%s", got, n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStoppedAtDeadline fails unless a probe given a context with timeout
// was ended by that deadline: it ran at least about timeout (its start is
// a moment after the context's) and stopped long before any later
// deadline it could wrongly obey, the nearest being DefaultTimeout. The
// servers in these tests stall or trickle forever, so only a deadline
// ends the probe; how soon after it the probe returns is up to the
// scheduler — hundreds of milliseconds late on a busy CI machine, under
// -race — so the upper bound is not a tolerance around timeout.
func checkStoppedAtDeadline(t *testing.T, d, timeout time.Duration) {
	t.Helper()
	if d < timeout*9/10 || d >= DefaultTimeout/2 {
		t.Errorf("Duration = %v, want at least %v (the deadline) and under %v (before any later one)",
			d, timeout*9/10, DefaultTimeout/2)
	}
}

// probeWithin runs one probe with a deadline of d.
func probeWithin(t *testing.T, p Prober, d time.Duration) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return p.Probe(ctx)
}

// mustHTTP builds a prober or fails the test.
func mustHTTP(t *testing.T, c config.HTTPCheck, opts Options) *HTTP {
	t.Helper()
	h, err := NewHTTP(c, opts)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return h
}

// newServer starts an httptest server that keeps its error log quiet
// (failed TLS handshakes are the point of several tests).
func newServer(t *testing.T, h http.Handler, cert *tls.Certificate, edits ...func(*http.Server)) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, edit := range edits {
		edit(s.Config)
	}
	if cert == nil {
		s.Start()
	} else {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		s.StartTLS()
	}
	t.Cleanup(s.Close)
	return s
}

// testCert is a self-signed certificate that can also serve as its own CA.
type testCert struct {
	cert     tls.Certificate
	pemFile  string // the certificate in PEM, for ca_file and cert_file
	keyFile  string // its key in PEM, for key_file
	notAfter time.Time
}

// newTestCert makes a self-signed certificate valid from notBefore to
// notAfter for 127.0.0.1 and the given names.
func newTestCert(t *testing.T, notBefore, notAfter time.Time, names ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "tocsin test"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemFile: file, keyFile: keyFile,
		notAfter: notAfter.UTC().Truncate(time.Second)}
}

// rawServer accepts TCP connections on 127.0.0.1 and hands each to handle.
// For faults a real server can't produce. Cleanup closes the listener and
// every connection and waits for the handlers.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// deadPort returns a loopback address where nothing listens.
func deadPort(t *testing.T) string {
	t.Helper()
	// 127.0.0.2 (still loopback): every test server binds 127.0.0.1, so a
	// parallel test cannot grab the freed port between Close and the probe.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fakeDNS starts a DNS server on 127.0.0.1 UDP that answers A queries for
// hosts, NOERROR with no answer for other types of known names, and
// NXDOMAIN for everything else. The returned resolver talks only to it, so
// no test ever reaches a real name server.
func fakeDNS(t *testing.T, hosts map[string]net.IP) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n], hosts); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// dnsReply answers one query (RFC 1035 §4.1), nil if it can't be parsed.
func dnsReply(q []byte, hosts map[string]net.IP) []byte {
	if len(q) < 12 || q[4] != 0 || q[5] != 1 { // exactly one question
		return nil
	}
	var labels []string
	off := 12
	for off < len(q) && q[off] != 0 {
		l := int(q[off])
		if l > 63 || off+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[off+1:off+1+l]))
		off += 1 + l
	}
	off++ // the root label
	if off+4 > len(q) {
		return nil
	}
	qtype := int(q[off])<<8 | int(q[off+1])
	question := q[12 : off+4]
	ip, known := hosts[strings.ToLower(strings.Join(labels, "."))]
	rcode, answers := byte(0), byte(0)
	switch {
	case !known:
		rcode = 3 // NXDOMAIN
	case qtype == 1:
		answers = 1
	}
	r := []byte{q[0], q[1], 0x80 | q[2]&0x79 | 0x04, 0x80 | rcode, 0, 1, 0, answers, 0, 0, 0, 0}
	r = append(r, question...)
	if answers == 1 {
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		r = append(r, ip.To4()...)
	}
	return r
}

// hasPhase reports whether r has a phase called name.
func hasPhase(r Result, name string) bool {
	for _, p := range r.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}

// boolPtr returns &b.
func boolPtr(b bool) *bool { return &b }

// checkWarning checks that res carries one certificate warning containing
// msg, or none when msg is "".
func checkWarning(t *testing.T, res Result, msg string) {
	t.Helper()
	switch {
	case msg == "" && len(res.Warnings) > 0:
		t.Errorf("Warnings = %v, want none", res.Warnings)
	case msg != "" && (len(res.Warnings) != 1 || res.Warnings[0].Reason != ReasonCertExpiry ||
		!strings.Contains(res.Warnings[0].Message, msg)):
		t.Errorf("Warnings = %v, want one cert_expiry warning containing %q", res.Warnings, msg)
	}
}
