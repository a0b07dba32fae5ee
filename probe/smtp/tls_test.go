package smtp

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// TestSMTPTLS covers STARTTLS and implicit TLS against hand-made servers
// with certificates made on the spot (the real MTA covers them too, in
// mta_test.go).
func TestSMTPTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := probetest.NewCert(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "mx.tocsin.test")
	soon := probetest.NewCert(t, now.Add(-time.Hour), now.Add(3*24*time.Hour+time.Hour), "mx.tocsin.test")
	expired := probetest.NewCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "mx.tocsin.test")
	tests := []struct {
		name    string
		srv     fakeSMTP
		cfg     config.SMTPCheck
		status  probe.Status
		reason  probe.Reason
		message string
		phases  []string
		warning string    // the certificate warning's message; "" for none
		expiry  time.Time // the leaf's expiry the result must carry; zero: not checked
	}{
		{name: "starttls trusted", srv: fakeSMTP{tls: valid.ServerConfig()},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.PEMFile}},
			status: probe.StatusUp, phases: []string{"connect", "banner", "ehlo", "tls"}},
		{name: "starttls by server name", srv: fakeSMTP{tls: valid.ServerConfig()},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.PEMFile, ServerName: "mx.tocsin.test"}},
			status: probe.StatusUp},
		{name: "starttls wrong server name", srv: fakeSMTP{tls: valid.ServerConfig()},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.PEMFile, ServerName: "mx.other.test"}},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate is valid for mx.tocsin.test, not mx.other.test"},
		{name: "starttls untrusted", srv: fakeSMTP{tls: valid.ServerConfig()}, cfg: config.SMTPCheck{TLS: "starttls"},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "starttls insecure", srv: fakeSMTP{tls: valid.ServerConfig()},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{InsecureSkipVerify: true}}, status: probe.StatusUp},
		{name: "starttls not offered", cfg: config.SMTPCheck{TLS: "starttls"}, status: probe.StatusDown, reason: probe.ReasonTLS,
			message: "server does not offer STARTTLS"},
		{name: "starttls without EHLO", srv: fakeSMTP{on: reply("EHLO", "502 5.5.2 no EHLO here\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls"}, status: probe.StatusDown, reason: probe.ReasonTLS,
			message: "server does not offer STARTTLS (EHLO: 502 5.5.2 no EHLO here)"},
		{name: "starttls refused", srv: fakeSMTP{tls: valid.ServerConfig(), on: reply("STARTTLS", "454 4.7.0 TLS not available\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls"}, status: probe.StatusDown, reason: probe.ReasonTLS,
			message: "STARTTLS: 454 4.7.0 TLS not available"},
		{name: "starttls then plain text", srv: fakeSMTP{tls: valid.ServerConfig(),
			on: reply("STARTTLS", "220 go ahead\r\n250-injected\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.PEMFile}}, status: probe.StatusDown,
			reason: probe.ReasonProtocol, message: "STARTTLS: server sent data before the TLS handshake"},
		{name: "starttls then hang up", srv: fakeSMTP{tls: valid.ServerConfig(),
			on: func(cmd string) string {
				if cmd == "STARTTLS" {
					return "220 go ahead\r\n" + hangUpAfterReply
				}
				return ""
			}},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.PEMFile}}, status: probe.StatusDown,
			reason: probe.ReasonTLS, message: "TLS handshake: connection closed by the server"},
		{name: "implicit trusted", srv: fakeSMTP{tls: valid.ServerConfig(), implicit: true},
			cfg:    config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{CAFile: valid.PEMFile}},
			status: probe.StatusUp, phases: []string{"connect", "tls", "banner", "ehlo"}},
		{name: "implicit untrusted", srv: fakeSMTP{tls: valid.ServerConfig(), implicit: true}, cfg: config.SMTPCheck{TLS: "implicit"},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "implicit against plain", cfg: config.SMTPCheck{TLS: "implicit"}, status: probe.StatusDown, reason: probe.ReasonTLS,
			message: "tls: "},
		{name: "expiring", srv: fakeSMTP{tls: soon.ServerConfig()},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: soon.PEMFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: probe.StatusUp, warning: "certificate expires in 3 days", expiry: soon.NotAfter},
		{name: "implicit expiring", srv: fakeSMTP{tls: soon.ServerConfig(), implicit: true},
			cfg: config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{CAFile: soon.PEMFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: probe.StatusUp, warning: "certificate expires in 3 days", expiry: soon.NotAfter},
		{name: "expiring beyond warning", srv: fakeSMTP{tls: soon.ServerConfig()},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: soon.PEMFile,
				CertExpiryWarning: 48 * time.Hour}},
			status: probe.StatusUp, expiry: soon.NotAfter},
		{name: "starttls expired", srv: fakeSMTP{tls: expired.ServerConfig()},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: expired.PEMFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate has expired", expiry: expired.NotAfter},
		{name: "implicit expired, not verified", srv: fakeSMTP{tls: expired.ServerConfig(), implicit: true},
			cfg: config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{InsecureSkipVerify: true,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: probe.StatusDown, reason: probe.ReasonTLS, message: "certificate expired 1 day ago", expiry: expired.NotAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			srv.greeting = fakeGreeting
			tt.cfg.Address = srv.start(t)
			res := probetest.Within(t, mustSMTP(t, tt.cfg, probe.Options{}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			probetest.CheckWarning(t, res, tt.warning)
			if tt.phases != nil && !slices.Equal(probetest.PhaseNames(t, res), tt.phases) {
				t.Errorf("phases = %v, want %v", probetest.PhaseNames(t, res), tt.phases)
			}
			if res.Status != probe.StatusDown && res.CertNotAfter.IsZero() {
				t.Errorf("CertNotAfter not set")
			}
			if !tt.expiry.IsZero() && !res.CertNotAfter.Equal(tt.expiry) {
				t.Errorf("CertNotAfter = %v, want %v", res.CertNotAfter, tt.expiry)
			}
		})
	}
}

// TestSMTPTLSServerNameDefault checks the certificate is verified against
// the host of the address when server_name is not set.
func TestSMTPTLSServerNameDefault(t *testing.T) {
	t.Parallel()
	cert := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "mx.tocsin.test")
	addr := fakeSMTP{greeting: fakeGreeting, tls: cert.ServerConfig()}.start(t)
	_, port, _ := net.SplitHostPort(addr)
	resolver := probetest.FakeDNS(t, map[string]net.IP{
		"mx.tocsin.test":    net.IPv4(127, 0, 0, 1),
		"other.tocsin.test": net.IPv4(127, 0, 0, 1),
	})
	for host, want := range map[string]probe.Status{"mx.tocsin.test": probe.StatusUp, "other.tocsin.test": probe.StatusDown} {
		c := config.SMTPCheck{Address: net.JoinHostPort(host, port), TLS: "starttls", TLSConfig: config.TLS{CAFile: cert.PEMFile}}
		res := probetest.Within(t, mustSMTP(t, c, probe.Options{Resolver: resolver}).Probe, 5*time.Second)
		if res.Status != want {
			t.Errorf("%s: %s %s %q, want %s", host, res.Status, res.Reason, res.Message, want)
		}
	}
}
