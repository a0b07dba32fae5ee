package smtp

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/mtatest"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// TestSMTPRealMTA runs the probe against a real exim on loopback ports: the
// conversations a production server actually has.
func TestSMTPRealMTA(t *testing.T) {
	t.Parallel()
	mta := mtatest.Start(t)
	trusted := config.TLS{CAFile: mta.CAFile(), ServerName: mtatest.ServerName}
	auth := func(mech, pass string) *config.SMTPAuth {
		return &config.SMTPAuth{Username: mtatest.Username, Password: config.Secret(pass), Mechanism: mech}
	}
	good := auth("", mtatest.Password)
	tests := []struct {
		name    string
		cfg     config.SMTPCheck
		status  probe.Status
		reason  probe.Reason
		message string
		code    int
		phases  []string
	}{
		{name: "plain session", cfg: config.SMTPCheck{Address: mta.Addr(), ExpectBanner: `^220 mx\.tocsin\.test ESMTP`},
			status: probe.StatusUp, phases: []string{"connect", "banner", "ehlo"}},
		{name: "banner mismatch", cfg: config.SMTPCheck{Address: mta.Addr(), ExpectBanner: "Postfix"},
			status: probe.StatusDown, reason: probe.ReasonProtocol, message: `greeting "220 mx.tocsin.test ESMTP`},
		{name: "no AUTH without TLS", cfg: config.SMTPCheck{Address: mta.Addr(), Auth: good},
			status: probe.StatusDown, reason: probe.ReasonAuth, message: "server offers no AUTH"},
		{name: "STARTTLS", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls", TLSConfig: trusted},
			status: probe.StatusUp, phases: []string{"connect", "banner", "ehlo", "tls"}},
		{name: "STARTTLS by IP address", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls",
			TLSConfig: config.TLS{CAFile: mta.CAFile()}}, status: probe.StatusUp},
		{name: "STARTTLS untrusted", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls",
			TLSConfig: config.TLS{ServerName: mtatest.ServerName}},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "STARTTLS wrong name", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls",
			TLSConfig: config.TLS{CAFile: mta.CAFile(), ServerName: "mx.other.test"}},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "not mx.other.test"},
		{name: "implicit TLS", cfg: config.SMTPCheck{Address: mta.TLSAddr(), TLS: "implicit", TLSConfig: trusted},
			status: probe.StatusUp, phases: []string{"connect", "tls", "banner", "ehlo"}},
		{name: "implicit TLS untrusted", cfg: config.SMTPCheck{Address: mta.TLSAddr(), TLS: "implicit"},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "implicit TLS on the plain port", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "implicit", TLSConfig: trusted},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "tls: "},
		{name: "AUTH PLAIN", cfg: config.SMTPCheck{Address: mta.TLSAddr(), TLS: "implicit", TLSConfig: trusted,
			Auth: auth("plain", mtatest.Password)}, status: probe.StatusUp, phases: []string{"connect", "tls", "banner", "ehlo", "auth"}},
		{name: "AUTH LOGIN", cfg: config.SMTPCheck{Address: mta.TLSAddr(), TLS: "implicit", TLSConfig: trusted,
			Auth: auth("login", mtatest.Password)}, status: probe.StatusUp},
		{name: "AUTH after STARTTLS", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls", TLSConfig: trusted,
			Auth: good}, status: probe.StatusUp},
		{name: "AUTH PLAIN rejected", cfg: config.SMTPCheck{Address: mta.TLSAddr(), TLS: "implicit", TLSConfig: trusted,
			Auth: auth("plain", "wrong-password-1")}, status: probe.StatusDown, reason: probe.ReasonAuth, message: "AUTH PLAIN: 535", code: 535},
		{name: "AUTH LOGIN rejected", cfg: config.SMTPCheck{Address: mta.Addr(), TLS: "starttls", TLSConfig: trusted,
			Auth: auth("login", "wrong-password-1")}, status: probe.StatusDown, reason: probe.ReasonAuth, message: "AUTH LOGIN: 535", code: 535},
		{name: "rejected recipient", cfg: config.SMTPCheck{Address: mta.Addr(),
			Send: &config.SMTPSend{From: "probe@tocsin.test", To: mtatest.Rejected}},
			status: probe.StatusDown, reason: probe.ReasonProtocol, message: "RCPT TO <" + mtatest.Rejected + ">: 550", code: 550},
		{name: "relaying denied", cfg: config.SMTPCheck{Address: mta.Addr(),
			Send: &config.SMTPSend{From: "probe@tocsin.test", To: "someone@elsewhere.example"}},
			status: probe.StatusDown, reason: probe.ReasonProtocol, message: "RCPT TO <someone@elsewhere.example>: 550", code: 550},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := probetest.Within(t, mustSMTP(t, tt.cfg, probe.Options{}).Probe, 10*time.Second)
			t.Logf("%s/%s %q %v", res.Status, res.Reason, res.Message, res.Phases)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			if tt.code != 0 && res.StatusCode != tt.code {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.code)
			}
			if tt.phases != nil && !slices.Equal(probetest.PhaseNames(t, res), tt.phases) {
				t.Errorf("phases = %v, want %v", probetest.PhaseNames(t, res), tt.phases)
			}
			if tt.cfg.TLS != "" && res.Status == probe.StatusUp && res.CertNotAfter.IsZero() {
				t.Errorf("CertNotAfter not set")
			}
			if strings.Contains(res.Message, mtatest.Password) {
				t.Errorf("Message %q leaks the password", res.Message)
			}
			if t.Failed() {
				t.Logf("exim log:\n%s", mta.Log(t))
			}
		})
	}
}

// TestSMTPRealMTASend runs full transactions and checks exim took each
// message.
func TestSMTPRealMTASend(t *testing.T) {
	t.Parallel()
	mta := mtatest.Start(t)
	trusted := config.TLS{CAFile: mta.CAFile(), ServerName: mtatest.ServerName}
	send := &config.SMTPSend{From: "probe@tocsin.test", To: mtatest.Accepted}
	for _, c := range []config.SMTPCheck{
		{Address: mta.Addr(), Send: send},
		{Address: mta.Addr(), TLS: "starttls", TLSConfig: trusted, Send: send,
			Auth: &config.SMTPAuth{Username: mtatest.Username, Password: mtatest.Password}},
		{Address: mta.TLSAddr(), TLS: "implicit", TLSConfig: trusted, Send: send,
			Auth: &config.SMTPAuth{Username: mtatest.Username, Password: mtatest.Password, Mechanism: "login"}},
	} {
		before := mta.Received(t)
		res := probetest.Within(t, mustSMTP(t, c, probe.Options{}).Probe, 10*time.Second)
		probetest.CheckResult(t, res, probe.StatusUp, probe.ReasonNone, "")
		if !slices.Contains(probetest.PhaseNames(t, res), "data") || res.StatusCode != 250 {
			t.Errorf("phases = %v, StatusCode = %d; want data and 250", probetest.PhaseNames(t, res), res.StatusCode)
		}
		if got := mta.Received(t); got != before+1 {
			t.Errorf("Received = %d, want %d", got, before+1)
		}
		if t.Failed() {
			t.Fatalf("exim log:\n%s", mta.Log(t))
		}
	}
}

// TestSMTPRealMTAStopped checks a stopped MTA is reported as refusing
// connections, and a restarted one as up again.
func TestSMTPRealMTAStopped(t *testing.T) {
	t.Parallel()
	mta := mtatest.Start(t)
	p := mustSMTP(t, config.SMTPCheck{Address: mta.Addr()}, probe.Options{})
	probetest.CheckResult(t, probetest.Within(t, p.Probe, 10*time.Second), probe.StatusUp, probe.ReasonNone, "")
	mta.Stop()
	res := probetest.Within(t, p.Probe, 10*time.Second)
	probetest.CheckResult(t, res, probe.StatusDown, probe.ReasonConnect, "connection refused")
	mta.Restart(t)
	probetest.CheckResult(t, probetest.Within(t, p.Probe, 10*time.Second), probe.StatusUp, probe.ReasonNone, "")
}
