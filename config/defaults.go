package config

import (
	"cmp"
	"strings"
	"time"
)

// Check types, impacts and HTTP and SMTP defaults.
const (
	typeHTTP      = "http"
	typeSMTP      = "smtp"
	typeQueue     = "queue"
	typeHeartbeat = "heartbeat"
	typeTCP       = "tcp"

	smtpTLSNone     = "none"
	smtpTLSStartTLS = "starttls"
	smtpTLSImplicit = "implicit"
	defaultHelo     = "tocsin.localhost"

	impactPartialOutage = "partial_outage"
	impactMajorOutage   = "major_outage"

	defaultMethod            = "GET"
	defaultExpectStatus      = "2xx"
	defaultMaxRedirects      = 10
	defaultMaxBodyBytes      = 1 << 20
	defaultCertExpiryWarning = 14 * 24 * time.Hour

	// defaultMaxHeaderBytes and its bounds are for server.max_header_bytes.
	defaultMaxHeaderBytes = 64 << 10
	minMaxHeaderBytes     = 4 << 10
	maxMaxHeaderBytes     = 1 << 20

	// defaultMaxInFlight is scheduler.max_in_flight's default: 50,000
	// checks every 30 s start ≈1,700 probes a second, and when all their
	// targets time out at 5 s, ≈8,300 are in flight at once; the default
	// leaves room for that, and at a socket or two per probe stays well
	// under the descriptor limit Go raises the soft RLIMIT_NOFILE to (the
	// hard limit, commonly 1,048,576 in containers); docs/configuration.md
	// has the arithmetic.
	defaultMaxInFlight = 10000

	// minInterval is low so that tests can compress time.
	minInterval = 10 * time.Millisecond
)

// defaultValues is the configuration before the file is read. It goes
// through the same checks as the file, so it is written the same way.
func defaultValues() map[string]any {
	return map[string]any{
		"server": map[string]any{
			"listen":              ":8080",
			"cors_origins":        []any{"*"},
			"cache_max_age":       "10s",
			"read_header_timeout": "5s",
			"read_timeout":        "10s",
			"write_timeout":       "30s",
			"idle_timeout":        "60s",
			"max_header_bytes":    defaultMaxHeaderBytes,
		},
		"redis": map[string]any{
			"key_prefix":   "tocsin:",
			"dial_timeout": "2s",
			"timeout":      "2s",
		},
		"ownership": map[string]any{
			"lease_duration": "15s",
		},
		"scheduler": map[string]any{
			"max_in_flight": defaultMaxInFlight,
		},
		"page": map[string]any{
			"id":        "tocsin",
			"name":      "Status",
			"time_zone": "UTC",
		},
		"log": map[string]any{
			"level":  "info",
			"format": "json",
		},
		"defaults": map[string]any{
			"interval":            "30s",
			"timeout":             "10s",
			"failure_threshold":   3,
			"success_threshold":   2,
			"flap_low_threshold":  defaultFlapLow,
			"flap_high_threshold": defaultFlapHigh,
			"quorum":              quorumMajority,
			"regional":            regionalIgnore,
		},
		"incidents": map[string]any{
			"group_window":  "15m",
			"group_by":      "relation",
			"resolve_after": "5m",
			"reopen_window": "30m",
			"retention":     "2160h",
		},
	}
}

// applyCheckDefaults gives every check the values it leaves unset (zero):
// interval, timeout and thresholds from c.Defaults, and fixed defaults for
// impact and the HTTP, SMTP and TCP settings.
func (c *Config) applyCheckDefaults() {
	d := c.Defaults
	for i := range c.Checks {
		ch := &c.Checks[i]
		ch.Interval = cmp.Or(ch.Interval, d.Interval)
		ch.Timeout = cmp.Or(ch.Timeout, d.Timeout)
		ch.FailureThreshold = cmp.Or(ch.FailureThreshold, d.FailureThreshold)
		ch.SuccessThreshold = cmp.Or(ch.SuccessThreshold, d.SuccessThreshold)
		ch.FlapLowThreshold = cmp.Or(ch.FlapLowThreshold, d.FlapLowThreshold)
		ch.FlapHighThreshold = cmp.Or(ch.FlapHighThreshold, d.FlapHighThreshold)
		ch.Impact = cmp.Or(ch.Impact, impactMajorOutage)
		if h := ch.HTTP; h != nil {
			h.Method = cmp.Or(h.Method, defaultMethod)
			if len(h.ExpectStatus) == 0 {
				h.ExpectStatus = []string{defaultExpectStatus}
			}
			if h.FollowRedirects == nil {
				follow := true
				h.FollowRedirects = &follow
			}
			h.MaxRedirects = cmp.Or(h.MaxRedirects, defaultMaxRedirects)
			h.MaxBodyBytes = cmp.Or(h.MaxBodyBytes, defaultMaxBodyBytes)
			h.TLS.CertExpiryWarning = cmp.Or(h.TLS.CertExpiryWarning, defaultCertExpiryWarning)
		}
		ch.SMTP.applyDefaults()
		ch.TCP.applyDefaults()
		ch.Queue.applyDefaults()
		ch.Heartbeat.applyDefaults(ch)
	}
}

// applyDefaults sets tls (none) and helo, and the certificate expiry
// warning when there is TLS: without it a tls_config is an error, and a
// default must not make one.
func (s *SMTPCheck) applyDefaults() {
	if s == nil {
		return
	}
	s.TLS = cmp.Or(s.TLS, smtpTLSNone)
	s.Helo = cmp.Or(s.Helo, defaultHelo)
	if s.TLS != smtpTLSNone {
		s.TLSConfig.CertExpiryWarning = cmp.Or(s.TLSConfig.CertExpiryWarning, defaultCertExpiryWarning)
	}
}

// applyDefaults sets the certificate expiry warning when there is TLS.
func (t *TCPCheck) applyDefaults() {
	if t != nil && t.TLS {
		t.TLSConfig.CertExpiryWarning = cmp.Or(t.TLSConfig.CertExpiryWarning, defaultCertExpiryWarning)
	}
}

// normalise takes the names Prometheus' and the Go tools' users type for
// the same settings: "warning" is warn and "logfmt" is text (slog's text
// handler writes logfmt), in any case.
func (l *Log) normalise() {
	l.Level, l.Format = strings.ToLower(l.Level), strings.ToLower(l.Format)
	if l.Level == "warning" {
		l.Level = "warn"
	}
	if l.Format == "logfmt" {
		l.Format = "text"
	}
}
