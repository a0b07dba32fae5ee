// Package smtp is the room of the SMTP check: a prober that holds one
// conversation with a mail server (greeting, EHLO, STARTTLS or implicit
// TLS, AUTH, and optionally a whole transaction) and judges it, and the
// reading of SMTP replies it needs. It dials, shakes hands, times phases
// and judges latency and certificates with the helpers of package probe,
// as the TCP prober does.
package smtp

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// SMTP defaults, applied when the check leaves the value empty.
const (
	// DefaultHelo is the name the probe introduces itself with.
	DefaultHelo = "tocsin.localhost"
)

// Phase names of the SMTP probe besides probe.PhaseConnect and
// probe.PhaseTLS. They are metric label values, so they form a closed set:
// Phases().
const (
	PhaseBanner = "banner" // the greeting
	PhaseEHLO   = "ehlo"   // EHLO or HELO, before and after STARTTLS
	PhaseAuth   = "auth"   // AUTH
	PhaseData   = "data"   // MAIL, RCPT and DATA
)

// Phases lists every phase an SMTP probe may report, in order.
func Phases() []string {
	return []string{probe.PhaseConnect, probe.PhaseTLS, PhaseBanner, PhaseEHLO, PhaseAuth, PhaseData}
}

// SMTP TLS modes (smtp.tls).
const (
	smtpTLSNone     = "none"
	smtpTLSStartTLS = "starttls"
	smtpTLSImplicit = "implicit"
)

// SMTP probes a mail server: greeting, EHLO (HELO if refused), optionally
// STARTTLS or implicit TLS, AUTH, and a whole transaction whose message
// must be accepted with 250. It is built once per check by New and is
// safe for concurrent use; every Probe opens a fresh connection.
//
// Phases: connect, tls, banner, ehlo, auth, data (MAIL, RCPT and DATA).
type SMTP struct {
	address         string
	tlsMode         string
	tlsConfig       *tls.Config // nil with tls none
	certWarning     time.Duration
	helo            string
	banner          *regexp.Regexp
	auth            *smtpAuth
	send            *config.SMTPSend
	degradedLatency time.Duration
	dialer          *net.Dialer
	now             func() time.Time
	cas             *probe.Shared // shared by the probers of one config
	// name goes in the X-Tocsin-Probe header: the check's name, else the
	// helo name.
	name    string
	secrets []string // scrubbed from every message
}

// smtpAuth is a resolved auth block.
type smtpAuth struct {
	username, password string
	mechanism          string // PLAIN, LOGIN, or "" to pick
}

var _ probe.Prober = (*SMTP)(nil)

// New validates c, the smtp block of check name, and translates it into a
// ready prober. Every problem is reported, each naming its key
// ("smtp.expect_banner: ..."); no error ever contains the password. The
// name goes in the X-Tocsin-Probe header; "" puts the helo name there.
func New(name string, c config.SMTPCheck, o probe.Options) (*SMTP, error) {
	s := &SMTP{
		address:         c.Address,
		tlsMode:         cmp.Or(strings.ToLower(c.TLS), smtpTLSNone),
		certWarning:     c.TLSConfig.CertExpiryWarning,
		helo:            cmp.Or(c.Helo, DefaultHelo),
		degradedLatency: c.DegradedLatency,
		dialer:          probe.NewDialer(o),
		now:             o.Now,
		cas:             o.Shared,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.name = cmp.Or(name, s.helo)
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	host, err := probe.SplitAddress("smtp.address", c.Address)
	fail(err)
	fail(s.buildTLS(c.TLSConfig, host))
	if strings.ContainsAny(s.helo, " \t\r\n") {
		fail(fmt.Errorf("smtp.helo: %q must be a single word", s.helo))
	}
	if c.ExpectBanner != "" {
		s.banner, err = regexp.Compile(c.ExpectBanner)
		if err != nil {
			fail(fmt.Errorf("smtp.expect_banner: %w", err))
		}
	}
	if c.Send != nil {
		send := *c.Send
		s.send = &send
		fail(checkMailbox("smtp.send.from", send.From))
		fail(checkMailbox("smtp.send.to", send.To))
	}
	if s.degradedLatency < 0 {
		fail(errors.New("smtp.degraded_latency: must not be negative"))
	}
	if c.Auth != nil {
		s.auth, err = buildSMTPAuth(*c.Auth)
		fail(err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.secrets = smtpSecrets(s.auth)
	return s, nil
}

// buildTLS checks the TLS mode and builds the TLS settings it needs. The
// server name defaults to the host of the address.
func (s *SMTP) buildTLS(c config.TLS, host string) error {
	switch s.tlsMode {
	case smtpTLSNone:
		if c != (config.TLS{}) {
			return errors.New("smtp.tls_config: needs tls starttls or implicit")
		}
		return nil
	case smtpTLSStartTLS, smtpTLSImplicit:
	default:
		return fmt.Errorf("smtp.tls: unknown mode %q (want none, starttls or implicit)", s.tlsMode)
	}
	cfg, err := probe.TLSConfigFor("smtp.tls_config", c, s.now, s.cas)
	if err != nil {
		return err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	s.tlsConfig = cfg
	return nil
}

// buildSMTPAuth checks an auth block and reads the password file if the
// config loader has not already.
func buildSMTPAuth(a config.SMTPAuth) (*smtpAuth, error) {
	var errs []error
	if a.Username == "" {
		errs = append(errs, errors.New("smtp.auth.username: is required"))
	}
	mech := strings.ToUpper(a.Mechanism)
	if mech != "" && mech != "PLAIN" && mech != "LOGIN" {
		errs = append(errs, fmt.Errorf("smtp.auth.mechanism: unknown mechanism %q (want plain or login)", a.Mechanism))
	}
	pass := a.Password.Reveal()
	if pass == "" && a.PasswordFile != "" {
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("smtp.auth.password_file: %w", err))
		}
		pass = strings.TrimSpace(string(b))
	}
	if pass == "" && len(errs) == 0 {
		errs = append(errs, errors.New("smtp.auth.password: is required (or password_file)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &smtpAuth{username: a.Username, password: pass, mechanism: mech}, nil
}

// checkMailbox accepts what can follow "MAIL FROM:<" or "RCPT TO:<": an
// address with an "@" and no spaces, brackets or line breaks.
func checkMailbox(key, addr string) error {
	switch {
	case addr == "":
		return errors.New(key + ": is required")
	case !strings.Contains(addr, "@") || strings.ContainsAny(addr, " \t\r\n<>"):
		return fmt.Errorf("%s: %q is not a mail address", key, addr)
	}
	return nil
}

// smtpSecrets lists what must never show in a message: the password and
// the forms it travels in (base64 in AUTH PLAIN and LOGIN), in case a server
// echoes them back.
func smtpSecrets(a *smtpAuth) []string {
	if a == nil {
		return nil
	}
	enc := base64.StdEncoding
	plain := "\x00" + a.username + "\x00" + a.password
	cand := []string{
		a.password,
		sanitize(a.password), // as it shows in a reply
		strings.Trim(strconv.Quote(a.password), `"`), // as it shows quoted
		enc.EncodeToString([]byte(a.password)),
		enc.EncodeToString([]byte(plain)),
		strings.TrimRight(enc.EncodeToString([]byte(a.password)), "="),
		strings.TrimRight(enc.EncodeToString([]byte(plain)), "="),
	}
	var out []string
	for _, s := range cand {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	// Longest first, so a value containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Probe runs one conversation and judges it. It never runs past ctx's
// deadline (probe.DefaultTimeout if none).
func (s *SMTP) Probe(ctx context.Context) probe.Result {
	start := time.Now()
	ctx, deadline, cancel := probe.WithDeadline(ctx, start)
	defer cancel()
	sess := &smtpSession{probe: s, timer: probe.NewPhaseTimer()}
	err := sess.run(ctx, deadline)
	now := s.now()
	res := probe.Result{Start: start, Duration: time.Since(start), Phases: sess.timer.Phases(),
		CertNotAfter: sess.notAfter, Warnings: probe.CertWarnings(sess.notAfter, now, s.certWarning)}
	if err != nil {
		res.Status = probe.StatusDown
		res.Reason, res.Message, res.StatusCode = sess.explain(ctx, err, probe.Budget(start, deadline))
		res.Message = probe.Clip(s.scrub(res.Message))
		return res
	}
	res.StatusCode = 250
	res.Status, res.Reason, res.Message = probe.JudgeSoft(sess.notAfter, now, res.Duration, s.degradedLatency)
	return res
}

// scrub replaces every secret of the check in msg.
func (s *SMTP) scrub(msg string) string {
	for _, sec := range s.secrets {
		msg = strings.ReplaceAll(msg, sec, "<redacted>")
	}
	return msg
}
