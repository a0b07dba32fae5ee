package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/promtest"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestCertificateExpiry: a certificate that expires within
// cert_expiry_warning is a private warning (docs/configuration.md, Certificate expiry): the checks stay up,
// the component operational and the page without incident, while
// /api/v1/checks shows the warning, /metrics the seconds left and a
// receiver that asked for warnings gets one per certificate. An expired
// certificate is down: the component leaves operational and an incident
// opens. Each case probes one HTTPS server twice, over HTTP and over TCP
// with TLS.
func TestCertificateExpiry(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	rds := redistest.Start(t)
	tests := []struct {
		name      string
		left      time.Duration // from now to the certificate's expiry
		component string        // components.json
		check     string        // both checks' confirmed status
		warned    bool
	}{
		{name: "within the window", left: 5*day + time.Hour, component: "operational", check: "up", warned: true},
		{name: "beyond the window", left: 30 * day, component: "operational", check: "up"},
		{name: "expired", left: -day, component: "major_outage", check: "down"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			notAfter := time.Now().Add(tt.left).UTC().Truncate(time.Second)
			srv, caFile := startTLSServer(t, dir, notAfter)
			hooks := startEventHooks(t)
			cfg := writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "cert%d:"}
defaults: {interval: 500ms, timeout: 400ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s}
components:
  - {id: search, name: Search}
checks:
  - name: search-https
    component: search
    type: http
    impact: major_outage
    http: {url: %q, tls: {ca_file: %q, cert_expiry_warning: 336h}}
  - name: search-tls
    component: search
    type: tcp
    impact: partial_outage
    tcp: {address: %q, tls: true, tls_config: {ca_file: %q}}
notify:
  - {name: hooks, type: webhook, url: %q, warnings: true, retry_min: 100ms, retry_max: 200ms}
`, rds.URL(), i, srv.URL, caFile, srv.Listener.Addr().String(), caFile, hooks.srv.URL))
			p := startTocsin(t, nil, "run", "--config", cfg)
			checks := []string{"search-https", "search-tls"}

			// Settled: each check confirmed, with more results than
			// failure_threshold would need to turn it.
			eventually(t, 20*time.Second, "both checks "+tt.check+" after 6 results", func() bool {
				for _, c := range checks {
					if p.checkStatus(c) != tt.check || p.resultsSince(c, time.Time{}) < 6 {
						return false
					}
				}
				return true
			})
			if tt.check == "up" {
				if got := p.componentStatus("search"); got != tt.component {
					t.Errorf("components.json: search is %s, want %s", got, tt.component)
				}
				if got := p.incidents("/api/v2/incidents.json"); len(got) != 0 {
					t.Errorf("incidents.json: %+v, want none", got)
				}
			} else {
				eventually(t, 10*time.Second, "search "+tt.component+" with an incident", func() bool {
					return p.componentStatus("search") == tt.component && len(p.incidents("/api/v2/incidents/unresolved.json")) == 1
				})
			}
			for _, c := range checks {
				checkWarnings(t, p, c, tt.warned, notAfter)
				checkExpiryMetric(t, p, c, notAfter, tt.left < 14*day)
			}
			promtoolCheckMetrics(t, p)
			// tocsin check says the same of one run.
			out, _ := exec.Command(tocsinBinary(t), "check", "--config", cfg, "search-https").CombinedOutput()
			if !strings.Contains(string(out), "status:   "+tt.check+"\n") ||
				strings.Contains(string(out), "warning:  cert_expiry: certificate expires in 5 days") != tt.warned {
				t.Errorf("tocsin check search-https, want %s (warned %v):\n%s", tt.check, tt.warned, out)
			}
			if tt.warned {
				eventually(t, 10*time.Second, "a warning per certificate delivered", func() bool {
					return slices.Equal(hooks.subjects("warning"), checks)
				})
			}
			if got := hooks.subjects("warning"); !tt.warned && len(got) > 0 {
				t.Errorf("warnings delivered for %v, want none", got)
			}
			if tt.check == "up" {
				if got := hooks.subjects("opened"); len(got) > 0 {
					t.Errorf("incidents opened (notified): %v, want none", got)
				}
			} else {
				// The webhook is delivered after the incident shows.
				eventually(t, 10*time.Second, "the incident's opening notified", func() bool {
					return len(hooks.subjects("opened")) > 0
				})
			}
		})
	}
}

// checkWarnings checks /api/v1/checks/{name}'s warnings: one cert_expiry
// warning of the certificate when warned, else none.
func checkWarnings(t *testing.T, p *proc, name string, warned bool, notAfter time.Time) {
	t.Helper()
	var v struct {
		Check struct {
			Warnings []struct {
				Reason   string    `json:"reason"`
				Message  string    `json:"message"`
				NotAfter time.Time `json:"not_after"`
			} `json:"warnings"`
		} `json:"check"`
	}
	p.getJSON("/api/v1/checks/"+name, &v)
	w := v.Check.Warnings
	switch {
	case !warned && len(w) != 0:
		t.Errorf("%s: warnings %+v, want none", name, w)
	case warned && (len(w) != 1 || w[0].Reason != "cert_expiry" || !w[0].NotAfter.Equal(notAfter) ||
		!strings.HasPrefix(w[0].Message, "certificate expires in 5 days")):
		t.Errorf("%s: warnings %+v, want one cert_expiry warning of %v", name, w, notAfter)
	}
}

// checkExpiryMetric checks tocsin_tls_cert_expiry_seconds{check=name}
// against notAfter (set at the last probe, so at most an interval, plus
// the time since, larger than now's figure) and its warning window,
// served only while the certificate is inside it (or expired).
func checkExpiryMetric(t *testing.T, p *proc, name string, notAfter time.Time, inWindow bool) {
	t.Helper()
	_, body := p.get("/metrics")
	value := func(metric string) float64 {
		m := regexp.MustCompile(`(?m)^` + metric + `\{check="` + name + `"\} (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics has no %s for %s", metric, name)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	left := time.Until(notAfter).Seconds()
	if got := value("tocsin_tls_cert_expiry_seconds"); got < left-1 || got > left+60 {
		t.Errorf("tocsin_tls_cert_expiry_seconds{check=%q} = %v, want about %v", name, got, math.Round(left))
	}
	if !inWindow {
		if regexp.MustCompile(`(?m)^tocsin_tls_cert_expiry_warning_seconds\{check="` + name + `"\}`).Match(body) {
			t.Errorf("/metrics has tocsin_tls_cert_expiry_warning_seconds for %s, whose certificate is outside its window", name)
		}
		return
	}
	if got := value("tocsin_tls_cert_expiry_warning_seconds"); got != (336 * time.Hour).Seconds() {
		t.Errorf("tocsin_tls_cert_expiry_warning_seconds{check=%q} = %v, want 336h", name, got)
	}
}

// promtoolCheckMetrics runs /metrics through `promtool check metrics`.
func promtoolCheckMetrics(t *testing.T, p *proc) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run the test command from the README, which installs Debian's prometheus")
	}
	_, body := p.get("/metrics")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestAlertTLSCertificateExpiring: a real Prometheus scrapes a running
// tocsin with the shipped rules loaded; TocsinTLSCertificateExpiring fires
// for the check whose certificate expires within its cert_expiry_warning,
// not for the one whose certificate has longer, and no incident opens.
func TestAlertTLSCertificateExpiring(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	rds := redistest.Start(t)
	dir := t.TempDir()
	soon, soonCA := startTLSServer(t, dir, time.Now().Add(5*day).UTC().Truncate(time.Second))
	later, laterCA := startTLSServer(t, t.TempDir(), time.Now().Add(60*day).UTC().Truncate(time.Second))
	cfg := writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "certalert:"}
defaults: {interval: 500ms, timeout: 400ms, failure_threshold: 2, success_threshold: 2}
components: [{id: search, name: Search}]
checks:
  - {name: search-https, component: search, type: http, http: {url: %q, tls: {ca_file: %q}}}
  - {name: search-api, component: search, type: http, http: {url: %q, tls: {ca_file: %q}}}
`, rds.URL(), soon.URL, soonCA, later.URL, laterCA))
	p := startTocsin(t, nil, "run", "--config", cfg)
	prom := promtest.StartWithRules(t, []string{shippedRules}, strings.TrimPrefix(p.base, "http://"))

	alerts := prom.WaitForSeries(t, `ALERTS{alertname="TocsinTLSCertificateExpiring",alertstate="firing"}`, 30*time.Second)
	if len(alerts) != 1 || alerts[0].Metric["check"] != "search-https" || alerts[0].Metric["severity"] != "warning" ||
		alerts[0].Metric["instance"] != "" {
		t.Errorf("ALERTS = %+v, want one firing warning for check search-https, without instance", alerts)
	}
	// Both checks' series were scraped, so the other's silence is a verdict.
	prom.WaitForSeries(t, `tocsin_tls_cert_expiry_seconds{check="search-api"} > 0`, 10*time.Second)
	if got := promQuery(t, prom, `ALERTS{alertname="TocsinTLSCertificateExpiring",check="search-api"}`); len(got) != 0 {
		t.Errorf("TocsinTLSCertificateExpiring for a certificate with 60 days left: %+v", got)
	}
	if s := p.componentStatus("search"); s != "operational" {
		t.Errorf("search is %s while the alert fires, want operational", s)
	}
	if got := p.incidents("/api/v2/incidents.json"); len(got) != 0 {
		t.Errorf("incidents while the alert fires: %+v", got)
	}
}

// startTLSServer serves HTTPS on 127.0.0.1 with a certificate that
// expires at notAfter, written to dir for ca_file.
func startTLSServer(t *testing.T, dir string, notAfter time.Time) (*httptest.Server, string) {
	t.Helper()
	cert, caFile := mintCert(t, dir, notAfter)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, caFile
}

// mintCert makes a self-signed certificate for 127.0.0.1 that expires at
// notAfter, and writes it to dir for ca_file.
func mintCert(t *testing.T, dir string, notAfter time.Time) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tocsin test"},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

// eventHooks is a webhook receiver that records each event's kind and
// subject (the check of a warning), once per delivery key.
type eventHooks struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]bool
	got  map[string][]string // kind -> subjects
}

func startEventHooks(t *testing.T) *eventHooks {
	t.Helper()
	h := &eventHooks{seen: map[string]bool{}, got: map[string][]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Subject string `json:"subject"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if key := r.Header.Get("X-Tocsin-Delivery"); !h.seen[key] {
			h.seen[key] = true
			kind := r.Header.Get("X-Tocsin-Event")
			h.got[kind] = append(h.got[kind], ev.Subject)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// subjects are the subjects of the events of kind received, sorted.
func (h *eventHooks) subjects(kind string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(slices.Values(h.got[kind]))
}
