package mtatest_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/mtatest"
)

const clientName = "client.tocsin.test"

// tlsConfig trusts only the MTA's test CA.
func tlsConfig(t *testing.T, m *mtatest.MTA, serverName string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(m.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", m.CAFile())
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// dial opens an SMTP client that has said EHLO: on the plain port ("plain"),
// on the plain port after STARTTLS ("starttls"), or on the implicit TLS port
// ("smtps").
func dial(t *testing.T, m *mtatest.MTA, port string) *smtp.Client {
	t.Helper()
	addr := m.Addr()
	if port == "smtps" {
		addr = m.TLSAddr()
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if port == "smtps" {
		tc := tls.Client(conn, tlsConfig(t, m, mtatest.ServerName))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake with %s: %v\n%s", addr, err, m.Log(t))
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, mtatest.ServerName)
	if err != nil {
		t.Fatalf("greeting from %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Hello(clientName); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	if port == "starttls" {
		if err := c.StartTLS(tlsConfig(t, m, mtatest.ServerName)); err != nil {
			t.Fatalf("STARTTLS: %v\n%s", err, m.Log(t))
		}
	}
	return c
}

// code is the SMTP reply code in err, or 0.
func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// loginAuth is AUTH LOGIN, which net/smtp does not have.
type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	switch {
	case !more:
		return nil, nil
	case strings.HasPrefix(string(challenge), "Username"):
		return []byte(a.user), nil
	case strings.HasPrefix(string(challenge), "Password"):
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", challenge)
}

func TestGreetingAndEHLOBeforeTLS(t *testing.T) {
	t.Parallel()
	start := time.Now()
	m := mtatest.Start(t)
	t.Logf("Start took %s", time.Since(start))

	conn, err := net.DialTimeout("tcp", m.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	_, msg, err := tp.ReadResponse(220)
	if err != nil || !strings.HasPrefix(msg, mtatest.ServerName+" ") {
		t.Fatalf("greeting = %q, %v; want 220 %s ...", msg, err, mtatest.ServerName)
	}
	if _, err := tp.Cmd("EHLO %s", clientName); err != nil {
		t.Fatal(err)
	}
	_, msg, err = tp.ReadResponse(250)
	if err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	lines := strings.Split(msg, "\n")
	if !strings.HasPrefix(lines[0], mtatest.ServerName+" ") {
		t.Errorf("EHLO reply starts %q, want %s", lines[0], mtatest.ServerName)
	}
	if !strings.Contains(msg, "\nSTARTTLS") {
		t.Errorf("EHLO reply has no STARTTLS:\n%s", msg)
	}
	if strings.Contains(msg, "\nAUTH") {
		t.Errorf("EHLO reply offers AUTH before TLS:\n%s", msg)
	}
	if _, err := tp.Cmd("AUTH PLAIN AHByb2JlAHByb2JlLXBhc3N3b3JkLTRmOWQ="); err != nil {
		t.Fatal(err)
	}
	if c, _, err := tp.ReadResponse(235); c != 503 {
		t.Errorf("AUTH before TLS = %d, %v; want 503", c, err)
	}
}

func TestTLSAndAuth(t *testing.T) {
	t.Parallel()
	m := mtatest.Start(t)
	for _, port := range []string{"starttls", "smtps"} {
		t.Run(port, func(t *testing.T) {
			c := dial(t, m, port)
			state, ok := c.TLSConnectionState()
			if !ok || len(state.VerifiedChains) == 0 {
				t.Fatalf("TLS not verified: ok=%v chains=%d", ok, len(state.VerifiedChains))
			}
			ok, params := c.Extension("AUTH")
			if !ok || !strings.Contains(params, "PLAIN") || !strings.Contains(params, "LOGIN") {
				t.Fatalf("AUTH over TLS = %v %q, want PLAIN and LOGIN", ok, params)
			}
			if err := c.Auth(smtp.PlainAuth("", mtatest.Username, mtatest.Password, mtatest.ServerName)); err != nil {
				t.Fatalf("AUTH PLAIN: %v\n%s", err, m.Log(t))
			}

			c = dial(t, m, port)
			if err := c.Auth(loginAuth{mtatest.Username, mtatest.Password}); err != nil {
				t.Fatalf("AUTH LOGIN: %v\n%s", err, m.Log(t))
			}

			c = dial(t, m, port)
			err := c.Auth(smtp.PlainAuth("", mtatest.Username, "wrong", mtatest.ServerName))
			if code(err) != 535 {
				t.Errorf("AUTH PLAIN with a wrong password = %v, want 535", err)
			}
			c = dial(t, m, port) // a failed Auth makes net/smtp quit
			err = c.Auth(loginAuth{mtatest.Username, "wrong"})
			if code(err) != 535 {
				t.Errorf("AUTH LOGIN with a wrong password = %v, want 535", err)
			}
		})
	}

	t.Run("IP SAN", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", m.TLSAddr(),
			tlsConfig(t, m, "127.0.0.1"))
		if err != nil {
			t.Fatalf("TLS to %s verifying 127.0.0.1: %v", m.TLSAddr(), err)
		}
		_ = conn.Close()
	})
}

func TestSendAndRecipients(t *testing.T) {
	t.Parallel()
	m := mtatest.Start(t)
	if n := m.Received(t); n != 0 {
		t.Fatalf("Received before any mail = %d, want 0", n)
	}
	for i, port := range []string{"starttls", "smtps"} {
		c := dial(t, m, port)
		if err := c.Auth(smtp.PlainAuth("", mtatest.Username, mtatest.Password, mtatest.ServerName)); err != nil {
			t.Fatalf("%s: AUTH PLAIN: %v", port, err)
		}
		if err := c.Mail("probe@tocsin.test"); err != nil {
			t.Fatalf("%s: MAIL FROM: %v", port, err)
		}
		for _, rcpt := range []string{mtatest.Rejected, "someone@example.com"} {
			if err := c.Rcpt(rcpt); code(err) != 550 {
				t.Errorf("%s: RCPT TO %s = %v, want 550", port, rcpt, err)
			}
		}
		if err := c.Rcpt(mtatest.Accepted); err != nil {
			t.Fatalf("%s: RCPT TO %s: %v", port, mtatest.Accepted, err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("%s: DATA: %v", port, err)
		}
		fmt.Fprintf(w, "From: probe@tocsin.test\r\nTo: %s\r\nSubject: test %d\r\n\r\nhello\r\n", mtatest.Accepted, i)
		// Close reads the reply to the end of data and fails unless it is 250.
		if err := w.Close(); err != nil {
			t.Fatalf("%s: end of DATA: %v\n%s", port, err, m.Log(t))
		}
		if got := m.Received(t); got != i+1 {
			t.Errorf("%s: Received after %d messages = %d\n%s", port, i+1, got, m.Log(t))
		}
		if err := c.Quit(); err != nil {
			t.Errorf("%s: QUIT: %v", port, err)
		}
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	m := mtatest.Start(t)
	addr, tlsAddr := m.Addr(), m.TLSAddr()
	c := dial(t, m, "starttls")
	if err := c.Mail("probe@tocsin.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(mtatest.Accepted); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "Subject: before restart\r\n\r\nhello\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	m.Stop()
	t.Logf("Stop took %s", time.Since(start))
	m.Stop() // idempotent
	for _, a := range []string{addr, tlsAddr} {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			_ = conn.Close()
			t.Errorf("dial %s after Stop succeeded", a)
		}
	}

	start = time.Now()
	m.Restart(t)
	t.Logf("Restart took %s", time.Since(start))
	if m.Addr() != addr || m.TLSAddr() != tlsAddr {
		t.Errorf("after Restart: %s and %s, want %s and %s", m.Addr(), m.TLSAddr(), addr, tlsAddr)
	}
	c = dial(t, m, "smtps")
	if err := c.Auth(smtp.PlainAuth("", mtatest.Username, mtatest.Password, mtatest.ServerName)); err != nil {
		t.Fatalf("AUTH after Restart: %v", err)
	}
	if got := m.Received(t); got != 1 {
		t.Errorf("Received after Restart = %d, want 1 (counted across restarts)", got)
	}
	if log := m.Log(t); strings.Count(log, "daemon started") != 2 {
		t.Errorf("Log does not show two daemon starts:\n%s", log)
	}
}

func TestParallelMTAs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 3 {
		m := mtatest.Start(t)
		for _, a := range []string{m.Addr(), m.TLSAddr()} {
			if seen[a] {
				t.Fatalf("two MTAs on %s", a)
			}
			seen[a] = true
		}
		conn, err := net.DialTimeout("tcp", m.Addr(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		_ = conn.Close()
		if err != nil || !strings.HasPrefix(line, "220 "+mtatest.ServerName) {
			t.Errorf("greeting from %s = %q, %v", m.Addr(), line, err)
		}
	}
}
