package smtp

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

const fakeGreeting = "220 fake.tocsin.test ESMTP ready\r\n"

// reply returns an on func that answers commands starting with prefix
// (case-insensitive) with reply.
func reply(prefix, reply string) func(string) string {
	return func(cmd string) string {
		if strings.HasPrefix(strings.ToUpper(cmd), strings.ToUpper(prefix)) {
			return reply
		}
		return ""
	}
}

// TestSMTPProbe covers the verdicts a well-behaved server can produce.
func TestSMTPProbe(t *testing.T) {
	t.Parallel()
	send := &config.SMTPSend{From: "probe@tocsin.test", To: "sink@tocsin.test"}
	auth := &config.SMTPAuth{Username: "probe", Password: "s3cret-pass"}
	tests := []struct {
		name    string
		srv     fakeSMTP
		cfg     config.SMTPCheck
		status  probe.Status
		reason  probe.Reason
		message string
		code    int
		phases  []string
	}{
		{name: "plain session", status: probe.StatusUp, code: 250, phases: []string{"connect", "banner", "ehlo"}},
		{name: "banner matches", cfg: config.SMTPCheck{ExpectBanner: "^220 fake\\.tocsin\\.test "}, status: probe.StatusUp},
		{name: "banner mismatch", cfg: config.SMTPCheck{ExpectBanner: "Postfix"}, status: probe.StatusDown,
			reason: probe.ReasonProtocol, message: `greeting "220 fake.tocsin.test ESMTP ready" does not match /Postfix/`, code: 220},
		{name: "HELO fallback", srv: fakeSMTP{on: reply("EHLO", "502 5.5.1 what?\r\n")}, status: probe.StatusUp},
		{name: "EHLO refused", srv: fakeSMTP{on: reply("EHLO", "554 5.7.1 go away\r\n")}, status: probe.StatusDown,
			reason: probe.ReasonProtocol, message: "EHLO: 554 5.7.1 go away", code: 554},
		{name: "auth picks PLAIN", srv: fakeSMTP{ehlo: "AUTH LOGIN PLAIN"}, cfg: config.SMTPCheck{Auth: auth},
			status: probe.StatusUp, phases: []string{"connect", "banner", "ehlo", "auth"}},
		{name: "auth LOGIN when no PLAIN", srv: fakeSMTP{ehlo: "AUTH LOGIN CRAM-MD5",
			on: reply("AUTH PLAIN", "504 no\r\n")}, cfg: config.SMTPCheck{Auth: auth}, status: probe.StatusUp},
		{name: "auth mechanism login", srv: fakeSMTP{ehlo: "AUTH LOGIN"},
			cfg:    config.SMTPCheck{Auth: &config.SMTPAuth{Username: "probe", Password: "s3cret-pass", Mechanism: "login"}},
			status: probe.StatusUp},
		{name: "auth rejected", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: reply("AUTH", "535 5.7.8 Authentication credentials invalid\r\n")},
			cfg: config.SMTPCheck{Auth: auth}, status: probe.StatusDown, reason: probe.ReasonAuth,
			message: "AUTH PLAIN: 535 5.7.8 Authentication credentials invalid", code: 535},
		{name: "no AUTH offered", cfg: config.SMTPCheck{Auth: auth}, status: probe.StatusDown, reason: probe.ReasonAuth,
			message: "server offers no AUTH"},
		{name: "mechanism not offered", srv: fakeSMTP{ehlo: "AUTH LOGIN"},
			cfg:    config.SMTPCheck{Auth: &config.SMTPAuth{Username: "probe", Password: "s3cret-pass", Mechanism: "plain"}},
			status: probe.StatusDown, reason: probe.ReasonAuth, message: "server does not offer AUTH PLAIN (offers LOGIN)"},
		{name: "neither PLAIN nor LOGIN", srv: fakeSMTP{ehlo: "AUTH CRAM-MD5"}, cfg: config.SMTPCheck{Auth: auth},
			status: probe.StatusDown, reason: probe.ReasonAuth, message: "server does not offer AUTH PLAIN or LOGIN (offers CRAM-MD5)"},
		{name: "send accepted", cfg: config.SMTPCheck{Send: send}, status: probe.StatusUp, code: 250,
			phases: []string{"connect", "banner", "ehlo", "data"}},
		{name: "MAIL refused", srv: fakeSMTP{on: reply("MAIL", "451 4.3.0 try again later\r\n")}, cfg: config.SMTPCheck{Send: send},
			status: probe.StatusDown, reason: probe.ReasonProtocol, message: "MAIL FROM <probe@tocsin.test>: 451 4.3.0 try again later", code: 451},
		{name: "RCPT refused", srv: fakeSMTP{on: reply("RCPT", "550 5.1.1 <sink@tocsin.test>: unknown user\r\n")},
			cfg: config.SMTPCheck{Send: send}, status: probe.StatusDown, reason: probe.ReasonProtocol,
			message: "RCPT TO <sink@tocsin.test>: 550 5.1.1 <sink@tocsin.test>: unknown user", code: 550},
		{name: "DATA refused", srv: fakeSMTP{on: reply("DATA", "503 5.5.1 no valid recipients\r\n")},
			cfg: config.SMTPCheck{Send: send}, status: probe.StatusDown, reason: probe.ReasonProtocol,
			message: "DATA: 503 5.5.1 no valid recipients", code: 503},
		{name: "message refused", srv: fakeSMTP{on: reply(".", "554 5.7.1 looks like spam\r\n")},
			cfg: config.SMTPCheck{Send: send}, status: probe.StatusDown, reason: probe.ReasonProtocol,
			message: "end of DATA: 554 5.7.1 looks like spam", code: 554},
		{name: "message answered 251", srv: fakeSMTP{on: reply(".", "251 odd\r\n")},
			cfg: config.SMTPCheck{Send: send}, status: probe.StatusDown, reason: probe.ReasonProtocol, message: "end of DATA: 251 odd"},
		{name: "QUIT unanswered", srv: fakeSMTP{on: reply("QUIT", hangUp)}, cfg: config.SMTPCheck{Send: send}, status: probe.StatusUp},
		{name: "slow", srv: fakeSMTP{on: func(cmd string) string {
			if strings.HasPrefix(cmd, "EHLO") {
				time.Sleep(60 * time.Millisecond)
			}
			return ""
		}}, cfg: config.SMTPCheck{DegradedLatency: 20 * time.Millisecond}, status: probe.StatusDegraded, reason: probe.ReasonLatency,
			message: "(degraded above 20ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			srv.greeting = fakeGreeting
			tt.cfg.Address = srv.start(t)
			res := probetest.Within(t, mustSMTP(t, tt.cfg, probe.Options{}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			if tt.code != 0 && res.StatusCode != tt.code {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.code)
			}
			if tt.phases != nil && !reflect.DeepEqual(probetest.PhaseNames(t, res), tt.phases) {
				t.Errorf("phases = %v, want %v", probetest.PhaseNames(t, res), tt.phases)
			}
		})
	}
}

// TestSMTPMessage checks the message a full transaction sends.
func TestSMTPMessage(t *testing.T) {
	t.Parallel()
	messages := make(chan string, 2)
	addr := fakeSMTP{greeting: fakeGreeting, messages: messages}.start(t)
	p, err := New("smtp-outbound", config.SMTPCheck{
		Address: addr, Send: &config.SMTPSend{From: "probe@tocsin.test", To: "sink@tocsin.test"}}, probe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for range 2 {
		probetest.CheckResult(t, probetest.Within(t, p.Probe, 5*time.Second), probe.StatusUp, probe.ReasonNone, "")
		bodies = append(bodies, <-messages)
	}
	for _, want := range []string{"\r\nFrom: <probe@tocsin.test>\r\n", "\r\nTo: <sink@tocsin.test>\r\n",
		"\r\nSubject: tocsin probe\r\n", "\r\nX-Tocsin-Probe: smtp-outbound\r\n", "\r\nDate: "} {
		if !strings.Contains(bodies[0], want) {
			t.Errorf("message lacks %q:\n%s", want, bodies[0])
		}
	}
	id := func(body string) string {
		_, rest, _ := strings.Cut(body, "Message-ID: <")
		v, _, _ := strings.Cut(rest, ">")
		return v
	}
	if a, b := id(bodies[0]), id(bodies[1]); a == "" || a == b || !strings.HasSuffix(a, "@tocsin") {
		t.Errorf("Message-IDs %q and %q, want unique <...@tocsin>", a, b)
	}

	// Without a check name, the probe names itself by its helo name.
	s := mustSMTP(t, config.SMTPCheck{Address: addr, Helo: "probe.tocsin.test",
		Send: &config.SMTPSend{From: "probe@tocsin.test", To: "sink@tocsin.test"}}, probe.Options{})
	probetest.CheckResult(t, probetest.Within(t, s.Probe, 5*time.Second), probe.StatusUp, probe.ReasonNone, "")
	if body := <-messages; !strings.Contains(body, "X-Tocsin-Probe: probe.tocsin.test\r\n") {
		t.Errorf("message lacks the helo name:\n%s", body)
	}
}

// TestSMTPHelo checks the name the probe introduces itself with, before
// and after STARTTLS.
func TestSMTPHelo(t *testing.T) {
	t.Parallel()
	cert := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	var mu sync.Mutex
	var seen []string
	srv := fakeSMTP{greeting: fakeGreeting, tls: cert.ServerConfig(),
		on: func(cmd string) string {
			if strings.HasPrefix(cmd, "EHLO") {
				mu.Lock()
				seen = append(seen, cmd)
				mu.Unlock()
			}
			return ""
		}}
	addr := srv.start(t)
	for _, c := range []config.SMTPCheck{
		{Address: addr},
		{Address: addr, Helo: "probe.acme.example", TLS: "starttls", TLSConfig: config.TLS{CAFile: cert.PEMFile}},
	} {
		probetest.CheckResult(t, probetest.Within(t, mustSMTP(t, c, probe.Options{}).Probe, 5*time.Second), probe.StatusUp, probe.ReasonNone, "")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"EHLO tocsin.localhost", "EHLO probe.acme.example", "EHLO probe.acme.example"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("server saw %q, want %q", seen, want)
	}
}

// TestNewSMTPErrors checks every configuration problem is reported.
func TestNewSMTPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.SMTPCheck
		want []string
	}{
		{"no address", config.SMTPCheck{}, []string{"smtp.address: is required"}},
		{"no port", config.SMTPCheck{Address: "mx.example"}, []string{"smtp.address: address mx.example: missing port in address"}},
		{"bad port", config.SMTPCheck{Address: "mx.example:70000"}, []string{`smtp.address: port "70000" is not a number in 1-65535`}},
		{"bad mode", config.SMTPCheck{Address: "mx:25", TLS: "ssl"}, []string{`smtp.tls: unknown mode "ssl"`}},
		{"tls_config without tls", config.SMTPCheck{Address: "mx:25", TLSConfig: config.TLS{InsecureSkipVerify: true}},
			[]string{"smtp.tls_config: needs tls starttls or implicit"}},
		{"bad ca", config.SMTPCheck{Address: "mx:465", TLS: "implicit", TLSConfig: config.TLS{CAFile: "/nonexistent/ca.pem"}},
			[]string{"smtp.tls_config.ca_file: open /nonexistent/ca.pem"}},
		{"bad regex", config.SMTPCheck{Address: "mx:25", ExpectBanner: "(220"}, []string{"smtp.expect_banner: error parsing regexp"}},
		{"bad helo", config.SMTPCheck{Address: "mx:25", Helo: "two words"}, []string{`smtp.helo: "two words" must be a single word`}},
		{"bad addresses", config.SMTPCheck{Address: "mx:25", Send: &config.SMTPSend{From: "nobody", To: "a@b\r\nRCPT TO:<x@y>"}},
			[]string{`smtp.send.from: "nobody" is not a mail address`, `smtp.send.to: "a@b\r\nRCPT TO:<x@y>" is not a mail address`}},
		{"auth", config.SMTPCheck{Address: "mx:25", Auth: &config.SMTPAuth{Mechanism: "cram-md5"}},
			[]string{"smtp.auth.username: is required", `smtp.auth.mechanism: unknown mechanism "cram-md5"`}},
		{"no password", config.SMTPCheck{Address: "mx:25", Auth: &config.SMTPAuth{Username: "u"}},
			[]string{"smtp.auth.password: is required (or password_file)"}},
		{"password file", config.SMTPCheck{Address: "mx:25", Auth: &config.SMTPAuth{Username: "u", PasswordFile: "/nonexistent/pass"}},
			[]string{"smtp.auth.password_file: open /nonexistent/pass"}},
		{"negative latency", config.SMTPCheck{Address: "mx:25", DegradedLatency: -time.Second},
			[]string{"smtp.degraded_latency: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New("", tt.cfg, probe.Options{})
			if err == nil {
				t.Fatalf("New succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
