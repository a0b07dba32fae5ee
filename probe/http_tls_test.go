package probe

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// TestHTTPTLS covers certificate verification and expiry against real TLS
// servers with certificates made on the spot. A certificate that expires
// within cert_expiry_warning leaves the check up with a private warning;
// an expired one is down, verified or not. The leaf's expiry is reported
// whenever the server presented one, also when verification rejected it.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	valid := probetest.NewCert(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "app.tocsin.test")
	expired := probetest.NewCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "app.tocsin.test")
	soon := probetest.NewCert(t, now.Add(-time.Hour), now.Add(5*24*time.Hour+time.Hour), "app.tocsin.test")
	resolver := probetest.FakeDNS(t, map[string]net.IP{
		"app.tocsin.test":   net.IPv4(127, 0, 0, 1),
		"other.tocsin.test": net.IPv4(127, 0, 0, 1),
	})
	tests := []struct {
		name    string
		cert    probetest.Cert
		host    string // in the URL; 127.0.0.1 if empty
		tls     func(*config.TLS, probetest.Cert)
		now     func() time.Time
		status  Status
		reason  Reason
		message string
		warning string // the certificate warning's message; "" for none
	}{
		{name: "self-signed, untrusted", cert: valid, status: StatusDown, reason: ReasonTLS,
			message: "certificate signed by unknown authority"},
		{name: "trusted via ca_file", cert: valid, tls: trust, status: StatusUp},
		{name: "trusted, by host name", cert: valid, host: "app.tocsin.test", tls: trust, status: StatusUp},
		{name: "host name mismatch", cert: valid, host: "other.tocsin.test", tls: trust, status: StatusDown,
			reason: ReasonTLS, message: "x509: certificate is valid for app.tocsin.test, not other.tocsin.test"},
		{name: "server_name override", cert: valid, host: "other.tocsin.test", status: StatusUp,
			tls: func(c *config.TLS, tc probetest.Cert) { trust(c, tc); c.ServerName = "app.tocsin.test" }},
		{name: "expired", cert: expired, tls: warn(14 * 24 * time.Hour), status: StatusDown, reason: ReasonTLS,
			message: "x509: certificate has expired or is not yet valid"},
		{name: "insecure_skip_verify", cert: valid, status: StatusUp,
			tls: func(c *config.TLS, _ probetest.Cert) { c.InsecureSkipVerify = true }},
		{name: "expiry within warning", cert: soon, status: StatusUp, tls: warn(14 * 24 * time.Hour),
			warning: "certificate expires in 5 days (" + soon.NotAfter.Format(time.DateOnly) + ")"},
		// The certificate is what the server presents, trusted or not.
		{name: "expiry within warning, untrusted", cert: soon, status: StatusDown, reason: ReasonTLS,
			tls:     func(c *config.TLS, _ probetest.Cert) { c.CertExpiryWarning = 14 * 24 * time.Hour },
			message: "certificate signed by unknown authority", warning: "certificate expires in 5 days"},
		{name: "expiry beyond warning", cert: soon, status: StatusUp, tls: warn(72 * time.Hour)},
		{name: "warning off", cert: soon, status: StatusUp, tls: trust},
		{name: "expiry at injected now", cert: valid, status: StatusUp,
			now: func() time.Time { return now.Add(89 * 24 * time.Hour) }, tls: warn(14 * 24 * time.Hour),
			warning: "certificate expires in less than a day"},
		{name: "verified at injected now", cert: valid, status: StatusDown, reason: ReasonTLS,
			now: func() time.Time { return now.Add(91 * 24 * time.Hour) }, tls: warn(14 * 24 * time.Hour),
			message: "certificate has expired"},
		{name: "expired but not verified", cert: expired, status: StatusDown, reason: ReasonTLS,
			tls: func(c *config.TLS, _ probetest.Cert) {
				c.InsecureSkipVerify = true
				c.CertExpiryWarning = 14 * 24 * time.Hour
			},
			message: "certificate expired 1 day ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := probetest.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), &tt.cert.Cert)
			u := srv.URL
			if tt.host != "" {
				u = strings.Replace(u, "127.0.0.1", tt.host, 1)
			}
			c := config.HTTPCheck{URL: config.Secret(u)}
			if tt.tls != nil {
				tt.tls(&c.TLS, tt.cert)
			}
			res := probetest.Within(t, mustHTTP(t, c, Options{Resolver: resolver, Now: tt.now}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			probetest.CheckWarning(t, res, tt.warning)
			if !res.CertNotAfter.Equal(tt.cert.NotAfter) {
				t.Errorf("CertNotAfter = %v, want the leaf's %v", res.CertNotAfter, tt.cert.NotAfter)
			}
			if res.Status != StatusDown && !hasPhase(res, "tls") {
				t.Errorf("Phases = %v, want a tls phase", res.Phases)
			}
		})
	}
}

// TestHTTPWarningWithFailure: a certificate warning is independent of the
// verdict, so a failing response keeps it, and latency still degrades.
func TestHTTPWarningWithFailure(t *testing.T) {
	t.Parallel()
	now := time.Now()
	soon := probetest.NewCert(t, now.Add(-time.Hour), now.Add(3*24*time.Hour+time.Hour))
	tests := []struct {
		name    string
		code    int
		slow    time.Duration // degraded_latency; the server answers after 30ms
		status  Status
		reason  Reason
		message string
	}{
		{name: "503", code: http.StatusServiceUnavailable, status: StatusDown, reason: ReasonStatus, message: "unexpected status 503"},
		{name: "slow", code: http.StatusOK, slow: time.Millisecond, status: StatusDegraded, reason: ReasonLatency,
			message: "(degraded above 1ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				time.Sleep(30 * time.Millisecond)
				w.WriteHeader(tt.code)
			}), &soon.Cert)
			c := config.HTTPCheck{URL: config.Secret(srv.URL), DegradedLatency: tt.slow}
			warn(14*24*time.Hour)(&c.TLS, soon)
			res := probetest.Within(t, mustHTTP(t, c, Options{}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			probetest.CheckWarning(t, res, "certificate expires in 3 days")
		})
	}
}

// trust makes the check trust the server's certificate through ca_file.
func trust(c *config.TLS, tc probetest.Cert) { c.CAFile = tc.PEMFile }

// warn is trust with cert_expiry_warning d.
func warn(d time.Duration) func(*config.TLS, probetest.Cert) {
	return func(c *config.TLS, tc probetest.Cert) { trust(c, tc); c.CertExpiryWarning = d }
}

// TestHTTPNotTLS points an https URL at a plain HTTP server.
func TestHTTPNotTLS(t *testing.T) {
	t.Parallel()
	srv := probetest.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(strings.Replace(srv.URL, "http:", "https:", 1))}, Options{})
	probetest.CheckResult(t, probetest.Within(t, h.Probe, 5*time.Second), StatusDown, ReasonTLS, "tls:")
}

// TestHTTPClientCertificate: against a server that requires a client
// certificate (mutual TLS), a check with tls.cert_file and key_file is up
// and one without is down; a key that does not match is refused when the
// prober is built, naming the key, not its content.
func TestHTTPClientCertificate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	server := probetest.NewCert(t, now.Add(-time.Hour), now.Add(24*time.Hour))
	client := probetest.NewCert(t, now.Add(-time.Hour), now.Add(24*time.Hour))
	other := probetest.NewCert(t, now.Add(-time.Hour), now.Add(24*time.Hour))
	clients := x509.NewCertPool()
	clients.AddCert(mustParse(t, client.Cert.Certificate[0]))
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	s.TLS = &tls.Config{Certificates: []tls.Certificate{server.Cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	s.StartTLS()
	t.Cleanup(s.Close)

	for _, tc := range []struct {
		name       string
		tls        config.TLS
		wantStatus Status
	}{
		{"with the client certificate", config.TLS{CAFile: server.PEMFile, CertFile: client.PEMFile, KeyFile: client.KeyFile}, StatusUp},
		{"without one", config.TLS{CAFile: server.PEMFile}, StatusDown},
		{"with one the server does not trust", config.TLS{CAFile: server.PEMFile, CertFile: other.PEMFile, KeyFile: other.KeyFile}, StatusDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(s.URL), TLS: tc.tls}, Options{})
			if r := probetest.Within(t, h.Probe, 5*time.Second); r.Status != tc.wantStatus {
				t.Errorf("status %s (%s: %s), want %s", r.Status, r.Reason, r.Message, tc.wantStatus)
			}
		})
	}
	_, err := NewHTTP(config.HTTPCheck{URL: config.Secret(s.URL), TLS: config.TLS{CertFile: client.PEMFile, KeyFile: other.KeyFile}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "http.tls.cert_file: tls: private key does not match public key") {
		t.Errorf("mismatched key: %v", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
