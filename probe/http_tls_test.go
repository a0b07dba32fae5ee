package probe

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// TestHTTPTLS covers certificate verification and expiry against real TLS
// servers with certificates made on the spot.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := newTestCert(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "app.tocsin.test")
	expired := newTestCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "app.tocsin.test")
	soon := newTestCert(t, now.Add(-time.Hour), now.Add(5*24*time.Hour+time.Hour), "app.tocsin.test")
	resolver := fakeDNS(t, map[string]net.IP{
		"app.tocsin.test":   net.IPv4(127, 0, 0, 1),
		"other.tocsin.test": net.IPv4(127, 0, 0, 1),
	})
	tests := []struct {
		name    string
		cert    testCert
		host    string // in the URL; 127.0.0.1 if empty
		tls     func(*config.TLS, testCert)
		now     func() time.Time
		status  Status
		reason  Reason
		message string
	}{
		{name: "self-signed, untrusted", cert: valid, status: StatusDown, reason: ReasonTLS,
			message: "certificate signed by unknown authority"},
		{name: "trusted via ca_file", cert: valid, tls: trust, status: StatusUp},
		{name: "trusted, by host name", cert: valid, host: "app.tocsin.test", tls: trust, status: StatusUp},
		{name: "host name mismatch", cert: valid, host: "other.tocsin.test", tls: trust, status: StatusDown,
			reason: ReasonTLS, message: "x509: certificate is valid for app.tocsin.test, not other.tocsin.test"},
		{name: "server_name override", cert: valid, host: "other.tocsin.test", status: StatusUp,
			tls: func(c *config.TLS, tc testCert) { trust(c, tc); c.ServerName = "app.tocsin.test" }},
		{name: "expired", cert: expired, tls: trust, status: StatusDown, reason: ReasonTLS,
			message: "x509: certificate has expired or is not yet valid"},
		{name: "insecure_skip_verify", cert: valid, status: StatusUp,
			tls: func(c *config.TLS, _ testCert) { c.InsecureSkipVerify = true }},
		{name: "expiry within warning", cert: soon, status: StatusDegraded, reason: ReasonCertExpiry,
			tls:     func(c *config.TLS, tc testCert) { trust(c, tc); c.CertExpiryWarning = 14 * 24 * time.Hour },
			message: "certificate expires in 5 days"},
		{name: "expiry beyond warning", cert: soon, status: StatusUp,
			tls: func(c *config.TLS, tc testCert) { trust(c, tc); c.CertExpiryWarning = 72 * time.Hour }},
		{name: "expiry at injected now", cert: valid, status: StatusDegraded, reason: ReasonCertExpiry,
			now:     func() time.Time { return now.Add(89 * 24 * time.Hour) },
			tls:     func(c *config.TLS, tc testCert) { trust(c, tc); c.CertExpiryWarning = 14 * 24 * time.Hour },
			message: "certificate expires in less than a day"},
		{name: "verified at injected now", cert: valid, status: StatusDown, reason: ReasonTLS,
			now: func() time.Time { return now.Add(91 * 24 * time.Hour) }, tls: trust,
			message: "certificate has expired"},
		{name: "expired but not verified", cert: expired, status: StatusDegraded, reason: ReasonCertExpiry,
			tls: func(c *config.TLS, _ testCert) {
				c.InsecureSkipVerify = true
				c.CertExpiryWarning = 14 * 24 * time.Hour
			},
			message: "certificate expired 1 day ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), &tt.cert.cert)
			u := srv.URL
			if tt.host != "" {
				u = strings.Replace(u, "127.0.0.1", tt.host, 1)
			}
			c := config.HTTPCheck{URL: config.Secret(u)}
			if tt.tls != nil {
				tt.tls(&c.TLS, tt.cert)
			}
			res := probeWithin(t, mustHTTP(t, c, Options{Resolver: resolver, Now: tt.now}), 5*time.Second)
			checkResult(t, res, tt.status, tt.reason, tt.message)
			if res.Status != StatusDown {
				if !hasPhase(res, "tls") || res.CertNotAfter.IsZero() {
					t.Errorf("Phases = %v, CertNotAfter = %v; want a tls phase and the expiry", res.Phases, res.CertNotAfter)
				}
			}
		})
	}
}

// trust makes the check trust the server's certificate through ca_file.
func trust(c *config.TLS, tc testCert) { c.CAFile = tc.pemFile }

// TestHTTPNotTLS points an https URL at a plain HTTP server.
func TestHTTPNotTLS(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(strings.Replace(srv.URL, "http:", "https:", 1))}, Options{})
	checkResult(t, probeWithin(t, h, 5*time.Second), StatusDown, ReasonTLS, "tls:")
}
