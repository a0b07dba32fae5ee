package probe

import (
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// TestSMTPTLS covers STARTTLS and implicit TLS against hand-made servers
// with certificates made on the spot (the real MTA covers them too, in
// smtp_mta_test.go).
func TestSMTPTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := newTestCert(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "mx.tocsin.test")
	soon := newTestCert(t, now.Add(-time.Hour), now.Add(3*24*time.Hour+time.Hour), "mx.tocsin.test")
	expired := newTestCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "mx.tocsin.test")
	serverTLS := func(c testCert) *tls.Config { return &tls.Config{Certificates: []tls.Certificate{c.cert}} }
	tests := []struct {
		name    string
		srv     fakeSMTP
		cfg     config.SMTPCheck
		status  Status
		reason  Reason
		message string
		phases  []string
		warning string    // the certificate warning's message; "" for none
		expiry  time.Time // the leaf's expiry the result must carry; zero: not checked
	}{
		{name: "starttls trusted", srv: fakeSMTP{tls: serverTLS(valid)},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.pemFile}},
			status: StatusUp, phases: []string{"connect", "banner", "ehlo", "tls"}},
		{name: "starttls by server name", srv: fakeSMTP{tls: serverTLS(valid)},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.pemFile, ServerName: "mx.tocsin.test"}},
			status: StatusUp},
		{name: "starttls wrong server name", srv: fakeSMTP{tls: serverTLS(valid)},
			cfg:    config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.pemFile, ServerName: "mx.other.test"}},
			status: StatusDown, reason: ReasonTLS, message: "certificate is valid for mx.tocsin.test, not mx.other.test"},
		{name: "starttls untrusted", srv: fakeSMTP{tls: serverTLS(valid)}, cfg: config.SMTPCheck{TLS: "starttls"},
			status: StatusDown, reason: ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "starttls insecure", srv: fakeSMTP{tls: serverTLS(valid)},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{InsecureSkipVerify: true}}, status: StatusUp},
		{name: "starttls not offered", cfg: config.SMTPCheck{TLS: "starttls"}, status: StatusDown, reason: ReasonTLS,
			message: "server does not offer STARTTLS"},
		{name: "starttls without EHLO", srv: fakeSMTP{on: reply("EHLO", "502 5.5.2 no EHLO here\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls"}, status: StatusDown, reason: ReasonTLS,
			message: "server does not offer STARTTLS (EHLO: 502 5.5.2 no EHLO here)"},
		{name: "starttls refused", srv: fakeSMTP{tls: serverTLS(valid), on: reply("STARTTLS", "454 4.7.0 TLS not available\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls"}, status: StatusDown, reason: ReasonTLS,
			message: "STARTTLS: 454 4.7.0 TLS not available"},
		{name: "starttls then plain text", srv: fakeSMTP{tls: serverTLS(valid),
			on: reply("STARTTLS", "220 go ahead\r\n250-injected\r\n")},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.pemFile}}, status: StatusDown,
			reason: ReasonProtocol, message: "STARTTLS: server sent data before the TLS handshake"},
		{name: "starttls then hang up", srv: fakeSMTP{tls: serverTLS(valid),
			on: func(cmd string) string {
				if cmd == "STARTTLS" {
					return "220 go ahead\r\n" + hangUpAfterReply
				}
				return ""
			}},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: valid.pemFile}}, status: StatusDown,
			reason: ReasonTLS, message: "TLS handshake: connection closed by the server"},
		{name: "implicit trusted", srv: fakeSMTP{tls: serverTLS(valid), implicit: true},
			cfg:    config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{CAFile: valid.pemFile}},
			status: StatusUp, phases: []string{"connect", "tls", "banner", "ehlo"}},
		{name: "implicit untrusted", srv: fakeSMTP{tls: serverTLS(valid), implicit: true}, cfg: config.SMTPCheck{TLS: "implicit"},
			status: StatusDown, reason: ReasonTLS, message: "certificate signed by unknown authority"},
		{name: "implicit against plain", cfg: config.SMTPCheck{TLS: "implicit"}, status: StatusDown, reason: ReasonTLS,
			message: "tls: "},
		{name: "expiring", srv: fakeSMTP{tls: serverTLS(soon)},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: soon.pemFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: StatusUp, warning: "certificate expires in 3 days", expiry: soon.notAfter},
		{name: "implicit expiring", srv: fakeSMTP{tls: serverTLS(soon), implicit: true},
			cfg: config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{CAFile: soon.pemFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: StatusUp, warning: "certificate expires in 3 days", expiry: soon.notAfter},
		{name: "expiring beyond warning", srv: fakeSMTP{tls: serverTLS(soon)},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: soon.pemFile,
				CertExpiryWarning: 48 * time.Hour}},
			status: StatusUp, expiry: soon.notAfter},
		{name: "starttls expired", srv: fakeSMTP{tls: serverTLS(expired)},
			cfg: config.SMTPCheck{TLS: "starttls", TLSConfig: config.TLS{CAFile: expired.pemFile,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: StatusDown, reason: ReasonTLS, message: "certificate has expired", expiry: expired.notAfter},
		{name: "implicit expired, not verified", srv: fakeSMTP{tls: serverTLS(expired), implicit: true},
			cfg: config.SMTPCheck{TLS: "implicit", TLSConfig: config.TLS{InsecureSkipVerify: true,
				CertExpiryWarning: 14 * 24 * time.Hour}},
			status: StatusDown, reason: ReasonTLS, message: "certificate expired 1 day ago", expiry: expired.notAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			srv.greeting = fakeGreeting
			tt.cfg.Address = srv.start(t)
			res := probeWithin(t, mustSMTP(t, tt.cfg, Options{}), 5*time.Second)
			checkResult(t, res, tt.status, tt.reason, tt.message)
			checkWarning(t, res, tt.warning)
			if tt.phases != nil && !slices.Equal(phaseNames(res), tt.phases) {
				t.Errorf("phases = %v, want %v", phaseNames(res), tt.phases)
			}
			if res.Status != StatusDown && res.CertNotAfter.IsZero() {
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
	cert := newTestCert(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "mx.tocsin.test")
	addr := fakeSMTP{greeting: fakeGreeting, tls: &tls.Config{Certificates: []tls.Certificate{cert.cert}}}.start(t)
	_, port, _ := net.SplitHostPort(addr)
	resolver := fakeDNS(t, map[string]net.IP{
		"mx.tocsin.test":    net.IPv4(127, 0, 0, 1),
		"other.tocsin.test": net.IPv4(127, 0, 0, 1),
	})
	for host, want := range map[string]Status{"mx.tocsin.test": StatusUp, "other.tocsin.test": StatusDown} {
		c := config.SMTPCheck{Address: net.JoinHostPort(host, port), TLS: "starttls", TLSConfig: config.TLS{CAFile: cert.pemFile}}
		res := probeWithin(t, mustSMTP(t, c, Options{Resolver: resolver}), 5*time.Second)
		if res.Status != want {
			t.Errorf("%s: %s %s %q, want %s", host, res.Status, res.Reason, res.Message, want)
		}
	}
}
