package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// validateBlocks checks that the check has the block of its type, and no
// other, and validates it.
func (ch *Check) validateBlocks(p *problems, path string) {
	blocks := []struct {
		typ      string
		present  bool
		validate func(key string)
	}{
		{typeHTTP, ch.HTTP != nil, func(key string) { ch.HTTP.validate(p, key, ch.Timeout) }},
		{typeSMTP, ch.SMTP != nil, func(key string) { ch.SMTP.validate(p, key, ch.Timeout) }},
		{typeTCP, ch.TCP != nil, func(key string) { ch.TCP.validate(p, key, ch.Timeout) }},
		{typeQueue, ch.Queue != nil, func(key string) { ch.Queue.validate(p, key, ch.Timeout) }},
		{typeHeartbeat, ch.Heartbeat != nil, func(key string) { ch.Heartbeat.validate(p, key, ch.Interval) }},
	}
	for _, b := range blocks {
		key := path + "." + b.typ
		switch {
		case b.present && ch.Type == b.typ:
			b.validate(key)
		case b.present:
			p.addf(key, "only valid for type %s", b.typ)
		case ch.Type == b.typ:
			p.addf(key, "required for type %s", b.typ)
		}
	}
}

// validate checks an SMTP block. Problems never quote the password.
func (s *SMTPCheck) validate(p *problems, path string, timeout time.Duration) {
	checkAddress(p, path+".address", s.Address)
	switch s.TLS {
	case smtpTLSNone:
		if s.TLSConfig != (TLS{}) {
			p.add(path+".tls_config", "needs tls starttls or implicit")
		}
	case smtpTLSStartTLS, smtpTLSImplicit:
		s.TLSConfig.validate(p, path+".tls_config")
	default:
		p.addf(path+".tls", "unknown mode %q (want none, starttls or implicit)", s.TLS)
	}
	if strings.ContainsAny(s.Helo, " \t\r\n") {
		p.addf(path+".helo", "invalid name %q (no spaces or line breaks)", s.Helo)
	}
	checkRegex(p, path+".expect_banner", s.ExpectBanner)
	if a := s.Auth; a != nil {
		if a.Username == "" {
			p.add(path+".auth.username", "required")
		}
		// A password_file problem was reported when it was read.
		if a.Password == "" && a.PasswordFile == "" {
			p.add(path+".auth.password", "required (or password_file)")
		}
		switch strings.ToLower(a.Mechanism) {
		case "", "plain", "login":
		default:
			p.addf(path+".auth.mechanism", "unknown mechanism %q (want plain or login)", a.Mechanism)
		}
	}
	if s.Send != nil {
		checkMailbox(p, path+".send.from", s.Send.From)
		checkMailbox(p, path+".send.to", s.Send.To)
	}
	checkDegradedLatency(p, path+".degraded_latency", s.DegradedLatency, timeout)
}

// validate checks a TCP block.
func (t *TCPCheck) validate(p *problems, path string, timeout time.Duration) {
	checkAddress(p, path+".address", t.Address)
	switch {
	case t.TLS:
		t.TLSConfig.validate(p, path+".tls_config")
	case t.TLSConfig != (TLS{}):
		p.add(path+".tls_config", "needs tls: true")
	}
	checkRegex(p, path+".expect", t.Expect)
	checkDegradedLatency(p, path+".degraded_latency", t.DegradedLatency, timeout)
}

// checkAddress checks a host:port target with a port in 1-65535.
func checkAddress(p *problems, path, addr string) {
	if addr == "" {
		p.add(path, "required")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.wrap(path, "", err)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.addf(path, "invalid port %q (want 1-65535)", port)
	}
	if host == "" {
		p.add(path, "missing host (want host:port)")
	}
}

// checkRegex checks an optional regular expression.
func checkRegex(p *problems, path, re string) {
	if re == "" {
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		p.wrap(path, "invalid regex", err)
	}
}

// checkMailbox checks an envelope address: local@domain, nothing that
// would break the MAIL or RCPT command line.
func checkMailbox(p *problems, path, addr string) {
	local, domain, ok := strings.Cut(addr, "@")
	switch {
	case addr == "":
		p.add(path, "required")
	case !ok || local == "" || domain == "" || strings.ContainsAny(addr, " \t\r\n<>"):
		p.addf(path, "invalid address %q (want local@domain)", addr)
	}
}

// checkDegradedLatency checks 0 <= d < timeout.
func checkDegradedLatency(p *problems, path string, d, timeout time.Duration) {
	if nonNegative(p, path, d) && timeout > 0 && d >= timeout {
		p.add(path, fmt.Sprintf("must be less than timeout (%s)", timeout))
	}
}
