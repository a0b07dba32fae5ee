// Package mtatest runs a real, throwaway mail server — Debian's exim4 — for
// the SMTP probe's tests.
//
// Each MTA listens only on 127.0.0.1, on two random free ports: plain SMTP
// with STARTTLS (Addr) and implicit TLS (TLSAddr). Its certificate is signed
// by a CA made for the test (CAFile). AUTH PLAIN and LOGIN with Username and
// Password are offered only over TLS. RCPT TO Accepted (or any other
// @tocsin.test address) is accepted and the mail is discarded after exim
// logs it; Rejected gets 550, and so does every other domain (no relaying).
// The configuration, spool, logs and certificates live in the test's
// t.TempDir(), nothing is looked up in DNS and nothing leaves the machine.
//
// Tests that need an MTA fail, never skip, when exim is not installed: a
// skipped probe test hides a missing dependency.
package mtatest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/testport"
	"github.com/tocsin/tocsin/internal/testproc"
)

const (
	// ServerName is the name in the server certificate (besides the
	// 127.0.0.1 IP SAN) and the domain in the greeting and the EHLO reply.
	ServerName = "mx.tocsin.test"
	// Username is the user that AUTH PLAIN and AUTH LOGIN accept.
	Username = "probe"
	// Password is Username's password.
	Password = "probe-password-4f9d"
	// Accepted is a recipient the MTA accepts (250 to RCPT TO and to DATA);
	// its mail is counted by Received and then discarded.
	Accepted = "sink@tocsin.test"
	// Rejected is a recipient the MTA rejects with 550 at RCPT TO.
	Rejected = "nobody@tocsin.test"
)

// Binary is where exim is expected when it is not on $PATH (/usr/sbin is
// often not on a non-root user's $PATH).
const Binary = "/usr/sbin/exim4"

// domain is the mail domain the MTA accepts mail for.
const domain = "tocsin.test"

const (
	startAttempts = 5
	startTimeout  = 15 * time.Second
	stopTimeout   = 10 * time.Second
)

// MTA is one exim daemon owned by a test.
type MTA struct {
	bin           string
	dir           string
	port, tlsPort int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// Start starts exim on two free ports of 127.0.0.1, waits until it greets
// with 220 and stops it when the test ends. It fails the test if exim is not
// installed.
func Start(t testing.TB) *MTA {
	t.Helper()
	bin := findExim(t)
	dir := t.TempDir()
	if err := checkPath(dir); err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	m := &MTA{bin: bin, dir: dir}
	for _, d := range []string{"spool", "log"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatalf("mtatest: %v", err)
		}
	}
	if err := writeCerts(m.CAFile(), m.path("cert.pem"), m.path("key.pem")); err != nil {
		t.Fatalf("mtatest: make certificates: %v", err)
	}
	t.Cleanup(m.Stop)

	err := testproc.OnFreePorts(startAttempts, 2, func(ports []int) error {
		m.port, m.tlsPort = ports[0], ports[1]
		if err := m.writeConfig(); err != nil {
			return err
		}
		return m.start()
	}, nil)
	if err != nil {
		t.Fatalf("mtatest: start exim: %v\n%s", err, m.Log(t))
	}
	return m
}

// Addr is host:port of the plain SMTP listener, which offers STARTTLS and,
// after it, AUTH PLAIN LOGIN.
func (m *MTA) Addr() string { return testport.HostPort(m.port) }

// TLSAddr is host:port of the implicit TLS (SMTPS) listener, which offers
// AUTH PLAIN LOGIN at once.
func (m *MTA) TLSAddr() string { return testport.HostPort(m.tlsPort) }

// CAFile is the PEM file of the test CA that signed the server certificate
// (for ServerName and 127.0.0.1).
func (m *MTA) CAFile() string { return m.path("ca.pem") }

// Stop terminates exim with SIGTERM and waits until it and every process it
// forked have exited, so both ports refuse connections: tests can see what
// happens when the server goes away. Stopping a stopped MTA does nothing.
func (m *MTA) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.proc
	if p == nil {
		return
	}
	m.proc = nil
	p.stop()
}

// Restart starts a stopped MTA again on the same ports, with the same
// certificates and logs. It stops a running one first.
func (m *MTA) Restart(t testing.TB) {
	t.Helper()
	m.Stop()
	var err error
	// The ports were ours a moment ago; retry briefly in case a racing
	// test took one.
	for range startAttempts {
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mtatest: restart exim on %s and %s: %v\n%s", m.Addr(), m.TLSAddr(), err, m.Log(t))
}

// Received is the number of messages exim has accepted for delivery (250
// after DATA) since Start, across restarts. exim logs a message before it
// answers 250, so the count is up to date once the client has the reply.
func (m *MTA) Received(t testing.TB) int {
	t.Helper()
	log, err := m.mainLog()
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	n := 0
	for line := range strings.Lines(string(log)) {
		// 2026-01-02 15:04:05 1xUjFC-0004Fm-0U <= sender@example H=...
		// Written to stderr (not root, see mainLog), without the message id.
		f := strings.Fields(line)
		if len(f) > 3 && (f[2] == "<=" || f[3] == "<=") {
			n++
		}
	}
	return n
}

// Log returns exim's logs (main, reject and panic) and anything it printed,
// for failure messages.
func (m *MTA) Log(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"log/mainlog", "log/rejectlog", "log/paniclog", "exim.out"} {
		data, err := os.ReadFile(m.path(name))
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(data) == 0) {
			continue
		}
		fmt.Fprintf(&b, "==> exim %s\n", name)
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
			continue
		}
		b.Write(data)
	}
	return b.String()
}

// path is name inside the MTA's directory.
func (m *MTA) path(name string) string { return filepath.Join(m.dir, name) }

// mainLog returns exim's main log. Running as root, exim writes it to
// log/mainlog; as another user, with its privilege dropped for -C, it writes
// it to stderr, which is exim.out.
func (m *MTA) mainLog() ([]byte, error) {
	var all []byte
	for _, name := range []string{"log/mainlog", "exim.out"} {
		data, err := os.ReadFile(m.path(name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		all = append(all, data...)
	}
	return all, nil
}

// writeConfig writes exim.conf for the current ports.
func (m *MTA) writeConfig() error {
	return writeConfig(m.path("exim.conf"), configData{
		ServerName: ServerName,
		Domain:     domain,
		Binary:     m.bin,
		UID:        os.Getuid(),
		GID:        os.Getgid(),
		Port:       m.port,
		TLSPort:    m.tlsPort,
		Dir:        m.dir,
		CertFile:   m.path("cert.pem"),
		KeyFile:    m.path("key.pem"),
		Rejected:   Rejected,
		Username:   Username,
		Password:   Password,
	})
}

// findExim returns the exim binary or fails the test.
func findExim(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("exim"); err == nil {
		return p
	}
	return testproc.Find(t, "exim4", Binary, "run ./scripts/test, which installs exim4-daemon-light "+
		"(Debian/Ubuntu: apt-get install -y exim4-daemon-light)")
}
