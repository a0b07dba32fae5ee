package engine

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// certStep is one thing that happens to the fixture's web-home check: a
// result whose certificate expires left from now (no certificate when
// noCert), a change of its config, or the loss of its component.
type certStep struct {
	status  probe.Status
	left    time.Duration
	noCert  bool
	config  func(*config.Check) // applied to web-home, then Configure
	remove  bool                // web-home leaves the config
	release bool                // another replica takes the web component
}

// TestCertExpiryMetric: tocsin_tls_cert_expiry_seconds follows a TLS
// check's results, and its warning window is served while the certificate
// is inside it or expired, one series each per check; they go
// when the check is removed, released or stops speaking TLS.
func TestCertExpiryMetric(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	series := func(expiry, window string) string {
		if expiry == "" {
			return ""
		}
		out := `
# HELP tocsin_tls_cert_expiry_seconds Seconds until the leaf certificate the check's target presented at the last probe expires; negative once expired.
# TYPE tocsin_tls_cert_expiry_seconds gauge
tocsin_tls_cert_expiry_seconds{check="web-home"} ` + expiry + "\n"
		if window == "" {
			return out
		}
		return out + `# HELP tocsin_tls_cert_expiry_warning_seconds The check's cert_expiry_warning (0: off), served only while its certificate expires within it or has expired: a private warning.
# TYPE tocsin_tls_cert_expiry_warning_seconds gauge
tocsin_tls_cert_expiry_warning_seconds{check="web-home"} ` + window + "\n"
	}
	up, down := probe.StatusUp, probe.StatusDown
	tests := []struct {
		name  string
		steps []certStep
		want  string
	}{
		{name: "expiring", steps: []certStep{{status: up, left: 3 * day}}, want: series("259200", "1.2096e+06")},
		{name: "renewed", steps: []certStep{{status: up, left: 3 * day}, {status: up, left: 90 * day}},
			want: series("7.776e+06", "")},
		{name: "outside the window", steps: []certStep{{status: up, left: 20 * day}}, want: series("1.728e+06", "")},
		{name: "warning off, expired", steps: []certStep{
			{config: func(c *config.Check) { c.HTTP.TLS.CertExpiryWarning = 0 }}, {status: down, left: -day}},
			want: series("-86400", "0")},
		{name: "expired", steps: []certStep{{status: down, left: -day}}, want: series("-86400", "1.2096e+06")},
		{name: "unreachable keeps the last", steps: []certStep{{status: up, left: 3 * day}, {status: down, noCert: true}},
			want: series("259200", "1.2096e+06")},
		{name: "through without TLS", steps: []certStep{{status: up, left: 3 * day}, {status: up, noCert: true}}},
		{name: "never TLS", steps: []certStep{{status: up, noCert: true}}},
		{name: "window changed", steps: []certStep{{status: up, left: 3 * day},
			{config: func(c *config.Check) { c.HTTP.TLS.CertExpiryWarning = 30 * day }}, {status: up, left: 3 * day}},
			want: series("259200", "2.592e+06")},
		{name: "reloaded to plain http", steps: []certStep{{status: up, left: 3 * day},
			{config: func(c *config.Check) { c.HTTP.URL = "http://web.test/" }}}},
		{name: "reloaded, still https", steps: []certStep{{status: up, left: 3 * day},
			{config: func(c *config.Check) { c.Timeout = time.Second }}}, want: series("259200", "1.2096e+06")},
		{name: "removed", steps: []certStep{{status: up, left: 3 * day}, {remove: true}}},
		{name: "released", steps: []certStep{{status: up, left: 3 * day}, {release: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cfg := *f.cfg
			cfg.Checks = slices.Clone(cfg.Checks)
			cfg.Checks[0].HTTP = &config.HTTPCheck{URL: "https://web.test/", TLS: config.TLS{CertExpiryWarning: 14 * day}}
			f.eng.Configure(&cfg)
			for _, s := range tt.steps {
				switch {
				case s.config != nil:
					next := cfg
					next.Checks = slices.Clone(cfg.Checks)
					hc := *next.Checks[0].HTTP
					next.Checks[0].HTTP = &hc
					s.config(&next.Checks[0])
					cfg = next
					f.eng.Configure(&cfg)
				case s.remove:
					next := cfg
					next.Checks = cfg.Checks[1:]
					f.eng.Configure(&next)
				case s.release:
					f.eng.Release([]string{"web"})
				default:
					r := probe.Result{Status: s.status, Start: f.clk.now(), Duration: time.Millisecond}
					if !s.noCert {
						r.CertNotAfter = f.clk.now().Add(s.left)
					}
					f.eng.Record(context.Background(), cfg.Checks[0], r)
				}
			}
			err := testutil.GatherAndCompare(f.reg, strings.NewReader(tt.want),
				"tocsin_tls_cert_expiry_seconds", "tocsin_tls_cert_expiry_warning_seconds")
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestExpiredCertificateIsNoWarning: an expired certificate (the check is
// down) is not passed on as a private warning; one inside the window is.
func TestExpiredCertificateIsNoWarning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var got []time.Time
	eng, err := New(Options{Store: f.store, Checks: f.store, Member: "r1", Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), Now: f.clk.now,
		OnCertWarning: func(_ config.Check, notAfter time.Time) { got = append(got, notAfter) }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := *f.cfg
	cfg.Checks = slices.Clone(cfg.Checks)
	cfg.Checks[0].HTTP = &config.HTTPCheck{URL: "https://web.test/", TLS: config.TLS{CertExpiryWarning: 14 * 24 * time.Hour}}
	eng.Configure(&cfg)
	f.own(eng, "r1", "web", "api")
	expired, soon := f.clk.now().Add(-time.Hour), f.clk.now().Add(time.Hour)
	eng.Record(context.Background(), cfg.Checks[0], probe.Result{Status: probe.StatusDown, Start: f.clk.now(), CertNotAfter: expired})
	eng.Record(context.Background(), cfg.Checks[0], probe.Result{Status: probe.StatusUp, Start: f.clk.now(), CertNotAfter: soon})
	if len(got) != 1 || !got[0].Equal(soon) {
		t.Errorf("warned of %v, want only %v", got, soon)
	}
}
