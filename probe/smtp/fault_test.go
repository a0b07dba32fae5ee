package smtp

import (
	"bufio"
	"context"

	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// The tests in this file that measure time don't call t.Parallel: they run
// alone, before the parallel tests resume.

// script is a hand-written SMTP server: it runs steps in order on each
// connection. Steps write, read a line, pause or stall.
type script []func(c net.Conn, br *bufio.Reader) bool

func (s script) start(t *testing.T) string {
	t.Helper()
	return probetest.RawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for _, step := range s {
			if !step(c, br) {
				return
			}
		}
	})
}

// say writes raw text.
func say(text string) func(net.Conn, *bufio.Reader) bool {
	return func(c net.Conn, _ *bufio.Reader) bool {
		_, err := io.WriteString(c, text)
		return err == nil
	}
}

// hear reads one command line.
func hear(c net.Conn, br *bufio.Reader) bool {
	_, err := br.ReadString('\n')
	return err == nil
}

// pause sleeps for d.
func pause(d time.Duration) func(net.Conn, *bufio.Reader) bool {
	return func(net.Conn, *bufio.Reader) bool { time.Sleep(d); return true }
}

// stall reads and discards until the client hangs up.
func stall(c net.Conn, br *bufio.Reader) bool {
	_, _ = io.Copy(io.Discard, br)
	return false
}

// flood writes text forever, until the client hangs up.
func flood(text string) func(net.Conn, *bufio.Reader) bool {
	return func(c net.Conn, _ *bufio.Reader) bool {
		probetest.Flood(c, text)
		return false
	}
}

// untilDot reads a message body up to the lone dot.
func untilDot(c net.Conn, br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == ".\r\n" {
			return err == nil
		}
	}
}

var (
	greet220 = say("220 mx.tocsin.test ESMTP\r\n")
	ehlo250  = say("250-mx.tocsin.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
	ok250    = say("250 2.0.0 ok\r\n")
	send     = &config.SMTPSend{From: "probe@tocsin.test", To: "sink@tocsin.test"}
)

// TestSMTPStalls checks a server that stops answering fails at the deadline,
// saying where it stalled.
func TestSMTPStalls(t *testing.T) {
	cert := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	tests := []struct {
		name    string
		script  script
		cfg     config.SMTPCheck
		message string
	}{
		{name: "no greeting ever", script: script{stall}, message: "timed out waiting for the greeting after 500ms"},
		{name: "half a greeting", script: script{say("220-mx.tocsin.test\r\n"), stall},
			message: "timed out waiting for the greeting after 500ms"},
		{name: "after EHLO", script: script{greet220, hear, stall}, message: "timed out in EHLO after 500ms"},
		{name: "after STARTTLS", script: script{greet220, hear, ehlo250, hear, say("220 go ahead\r\n"), stall},
			cfg:     config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: cert.PEMFile}},
			message: "timed out in the TLS handshake after 500ms"},
		{name: "in AUTH", script: script{greet220, hear, ehlo250, hear, stall},
			cfg:     config.SMTPCheck{Auth: &config.SMTPAuth{Username: "probe", Password: "pass-word-1"}},
			message: "timed out in AUTH PLAIN after 500ms"},
		{name: "after RCPT", script: script{greet220, hear, ehlo250, hear, ok250, hear, stall}, cfg: config.SMTPCheck{Send: send},
			message: "timed out in RCPT TO <sink@tocsin.test> after 500ms"},
		{name: "after the message", script: script{greet220, hear, ehlo250, hear, ok250, hear, ok250, hear,
			say("354 go ahead\r\n"), untilDot, stall}, cfg: config.SMTPCheck{Send: send},
			message: "timed out waiting for the message to be accepted after 500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Address = tt.script.start(t)
			const timeout = 500 * time.Millisecond
			res := probetest.Within(t, mustSMTP(t, tt.cfg, probe.Options{}).Probe, timeout)
			probetest.CheckResult(t, res, probe.StatusDown, probe.ReasonTimeout, tt.message)
			probetest.CheckStoppedAtDeadline(t, res.Duration, timeout, probe.DefaultTimeout)
		})
	}
}

// TestSMTPBrokenServers covers replies and hang-ups no real MTA produces.
// A connection that breaks after the greeting began is a protocol failure,
// not a connect one: the server was reachable and then misbehaved. Closed
// mid-DATA, the probe sees either the close or a reset (the server had
// unread data), never a hang.
func TestSMTPBrokenServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  script
		cfg     config.SMTPCheck
		message []string // any of
		code    int
	}{
		{name: "421 greeting", script: script{say("421 mx.example busy\r\n")},
			message: []string{"greeting: 421 mx.example busy"}, code: 421},
		{name: "554 multi-line greeting", script: script{say("554-mx.example\r\n554 no service\r\n")},
			message: []string{"greeting: 554 mx.example no service"}, code: 554},
		{name: "closed without a word", script: script{}, message: []string{"greeting: connection closed by the server"}},
		{name: "garbage greeting", script: script{say("HTTP/1.1 400 Bad Request\r\n")},
			message: []string{`greeting: malformed reply: "HTTP/1.1 400 Bad Request"`}},
		{name: "binary greeting", script: script{say("\x16\x03\x01\x00\xa5\r\n")},
			message: []string{`greeting: malformed reply: "\x16\x03\x01\x00\xa5"`}},
		{name: "garbage EHLO reply", script: script{greet220, hear, say("what is this\r\n")}, message: []string{"EHLO: "}},
		{name: "mixed codes in EHLO reply", script: script{greet220, hear, say("250-mx\r\n451 oops\r\n")},
			message: []string{"EHLO: "}},
		{name: "closed after EHLO", script: script{greet220, hear}, message: []string{"EHLO: connection closed by the server"}},
		{name: "closed mid-DATA", script: script{greet220, hear, ehlo250, hear, ok250, hear, ok250, hear,
			say("354 go ahead\r\n"), hear}, cfg: config.SMTPCheck{Send: send},
			message: []string{"end of DATA: connection closed by the server", "end of DATA: connection reset by peer",
				"end of DATA: connection closed by peer (broken pipe)"}},
		{name: "closed before the final reply", script: script{greet220, hear, ehlo250, hear, ok250, hear, ok250, hear,
			say("354 go ahead\r\n"), untilDot}, cfg: config.SMTPCheck{Send: send},
			message: []string{"end of DATA: connection closed by the server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Address = tt.script.start(t)
			res := probetest.Within(t, mustSMTP(t, tt.cfg, probe.Options{}).Probe, 5*time.Second)
			if res.Status != probe.StatusDown || res.Reason != probe.ReasonProtocol {
				t.Errorf("got %s/%s (%q), want down/protocol", res.Status, res.Reason, res.Message)
			}
			t.Logf("%s/%s: %q (%v)", res.Status, res.Reason, res.Message, res.Duration)
			if !containsAny(res.Message, tt.message) {
				t.Errorf("Message = %q, want one of %q", res.Message, tt.message)
			}
			if res.StatusCode != tt.code {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.code)
			}
			if res.Duration > time.Second {
				t.Errorf("Duration = %v, want it prompt", res.Duration)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestSMTPSplitWrites sends every reply in pieces with pauses between
// them, splitting lines and multi-line replies across TCP writes.
func TestSMTPSplitWrites(t *testing.T) {
	t.Parallel()
	p := pause(30 * time.Millisecond)
	addr := script{
		say("22"), p, say("0-mx.tocsin.test ESMTP\r"), p, say("\n220 ready\r\n"),
		hear, say("250-mx.tocsin.test\r\n250-PIPE"), p, say("LINING\r\n250-8BIT"), p, say("MIME\r\n"), p,
		say("250 SIZE 1000000\r\n"),
		hear, say("25"), p, say("0 ok\r\n"),
		hear, say("250 "), p, say("ok\r\n"),
		hear, say("354 go"), p, say(" ahead\r\n"), untilDot,
		say("250-2.0.0 queued\r\n"), p, say("250 2.0.0 as 1\r\n"),
		hear, say("221 bye\r\n"),
	}.start(t)
	c := config.SMTPCheck{Address: addr, ExpectBanner: "^220 mx\\.tocsin\\.test ESMTP$", Send: send}
	probetest.CheckResult(t, probetest.Within(t, mustSMTP(t, c, probe.Options{}).Probe, 5*time.Second), probe.StatusUp, probe.ReasonNone, "")
}

// TestSMTPEndless checks endless replies are cut off after a bounded
// amount, long before the deadline.
func TestSMTPEndless(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  script
		message string
	}{
		{name: "endless greeting line", script: script{flood("x")},
			message: "greeting: malformed reply: line longer than 2000 bytes"},
		{name: "endless multi-line greeting", script: script{flood("220-mx.tocsin.test\r\n")},
			message: "greeting: malformed reply: more than 100 lines"},
		{name: "endless EHLO line", script: script{greet220, hear, say("250-"), flood("x")},
			message: "EHLO: smtp: too long a line in input stream"},
		{name: "endless multi-line EHLO reply", script: script{greet220, hear, flood("250-PIPELINING\r\n")},
			message: "EHLO: server sent more than 1024 KiB without waiting for the client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.SMTPCheck{Address: tt.script.start(t)}
			res := probetest.Within(t, mustSMTP(t, c, probe.Options{}).Probe, 10*time.Second)
			probetest.CheckResult(t, res, probe.StatusDown, probe.ReasonProtocol, tt.message)
			if res.Duration > 5*time.Second {
				t.Errorf("Duration = %v, want it cut off well before the deadline", res.Duration)
			}
		})
	}
}

// TestSMTPCanceled checks canceling the context ends a stalled probe at
// once, whatever the deadline.
func TestSMTPCanceled(t *testing.T) {
	t.Parallel()
	cert := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	for name, c := range map[string]config.SMTPCheck{
		"greeting": {Address: script{stall}.start(t)},
		"starttls": {Address: script{greet220, hear, ehlo250, hear, say("220 go\r\n"), stall}.start(t),
			TLS: "starttls", TLSConfig: config.TLS{CAFile: cert.PEMFile}},
		"implicit": {Address: script{stall}.start(t), TLS: "implicit"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			time.AfterFunc(100*time.Millisecond, cancel)
			res := mustSMTP(t, c, probe.Options{}).Probe(ctx)
			if res.Status != probe.StatusDown || res.Reason != probe.ReasonError || res.Duration > time.Second {
				t.Errorf("got %s/%s (%q) after %v, want down/error promptly", res.Status, res.Reason, res.Message, res.Duration)
			}
		})
	}
}

// TestSMTPNoDeadline checks a context without a deadline gets
// DefaultTimeout rather than none. It only checks the probe is bounded;
// waiting DefaultTimeout out would slow the suite.
func TestSMTPNoDeadline(t *testing.T) {
	t.Parallel()
	addr := fakeSMTP{greeting: fakeGreeting}.start(t)
	res := mustSMTP(t, config.SMTPCheck{Address: addr}, probe.Options{}).Probe(context.Background())
	probetest.CheckResult(t, res, probe.StatusUp, probe.ReasonNone, "")
}

// TestSMTPConnect covers failures before the conversation begins.
func TestSMTPConnect(t *testing.T) {
	t.Parallel()
	resolver := probetest.FakeDNS(t, nil)
	tests := []struct {
		name, addr string
		reason     probe.Reason
		message    string
	}{
		{"refused", probetest.DeadPort(t), probe.ReasonConnect, "connection refused"},
		{"unresolvable", "mx.nowhere.invalid:25", probe.ReasonDNS, "dns lookup failed: no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := probetest.Within(t, mustSMTP(t, config.SMTPCheck{Address: tt.addr}, probe.Options{Resolver: resolver}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, probe.StatusDown, tt.reason, tt.message)
			if !slices.Equal(probetest.PhaseNames(t, res), []string{"connect"}) {
				t.Errorf("phases = %v, want [connect]", probetest.PhaseNames(t, res))
			}
		})
	}
}
