package smtp

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tocsin/tocsin/probe"
)

// quitGrace bounds the QUIT that ends a good conversation: its answer
// changes nothing, so a server slow to say goodbye must not cost the rest
// of the check's budget.
const quitGrace = time.Second

// smtpSession is the state of one SMTP probe run.
type smtpSession struct {
	probe    *SMTP
	timer    *probe.PhaseTimer
	phase    string // the current phase
	label    string // the current step, for messages: "RCPT TO <x>"
	raw      net.Conn
	notAfter time.Time
}

// at enters a step of phase, labelled for messages.
func (ss *smtpSession) at(phase, label string) {
	if phase != ss.phase {
		ss.timer.Begin(phase)
		ss.phase = phase
	}
	ss.label = label
}

// run holds the whole conversation. The TCP connection carries the check's
// deadline from the dial on; canceling ctx closes it.
func (ss *smtpSession) run(ctx context.Context, deadline time.Time) error {
	p := ss.probe
	ss.at(probe.PhaseConnect, "connect")
	raw, release, err := probe.DialTarget(ctx, p.dialer, p.address, deadline)
	if err != nil {
		return err
	}
	defer release()
	ss.raw = raw
	transport := raw
	if p.tlsMode == smtpTLSImplicit {
		ss.at(probe.PhaseTLS, "TLS handshake")
		if transport, ss.notAfter, err = probe.Handshake(ctx, raw, p.tlsConfig); err != nil {
			return err
		}
	}
	ss.at(PhaseBanner, "greeting")
	br := bufio.NewReaderSize(transport, 4096)
	greeting, err := ss.greet(br)
	if err != nil {
		return err
	}
	var rest io.Reader = br
	if p.tlsMode == smtpTLSStartTLS {
		if transport, err = ss.startTLS(ctx, br); err != nil {
			return err
		}
		rest = transport
	}
	// go-smtp reads the greeting itself: it gets it again from the replay.
	c := smtp.NewClient(newReplayConn(transport, raw, greeting.raw, rest))
	if err := ss.converse(c); err != nil {
		return err
	}
	ss.timer.End()
	_ = raw.SetDeadline(minTime(deadline, time.Now().Add(quitGrace)))
	_ = c.Quit() // the verdict is in; a server that hangs up first is fine
	return nil
}

// greet reads the greeting and checks it: 220 and expect_banner.
func (ss *smtpSession) greet(br *bufio.Reader) (Reply, error) {
	rep, err := readReply(br)
	if err != nil {
		return rep, err
	}
	if rep.Code != 220 {
		return rep, &probe.Rejection{Reason: probe.ReasonProtocol, Code: rep.Code, Message: "greeting: " + sanitize(rep.String())}
	}
	if re := ss.probe.banner; re != nil && !re.MatchString(rep.FirstLine()) {
		return rep, &probe.Rejection{Reason: probe.ReasonProtocol, Code: rep.Code,
			Message: fmt.Sprintf("greeting %q does not match /%s/", probe.Clip(sanitize(rep.FirstLine())), re)}
	}
	return rep, nil
}

// startTLS says EHLO and STARTTLS on the plain connection and runs the
// handshake. go-smtp v0.25 has no exported STARTTLS on a Client, and its
// NewClientStartTLS says EHLO as "localhost", not the configured helo name.
func (ss *smtpSession) startTLS(ctx context.Context, br *bufio.Reader) (*tls.Conn, error) {
	ss.at(PhaseEHLO, "EHLO")
	rep, err := command(ss.raw, br, "EHLO "+ss.probe.helo)
	switch {
	case err != nil:
		return nil, err
	case rep.Code == 500 || rep.Code == 502:
		return nil, &probe.Rejection{Reason: probe.ReasonTLS, Code: rep.Code, Message: "server does not offer STARTTLS (EHLO: " + sanitize(rep.String()) + ")"}
	case rep.Code != 250:
		return nil, &probe.Rejection{Reason: probe.ReasonProtocol, Code: rep.Code, Message: "EHLO: " + sanitize(rep.String())}
	case !hasExtension(rep, "STARTTLS"):
		return nil, &probe.Rejection{Reason: probe.ReasonTLS, Message: "server does not offer STARTTLS"}
	}
	ss.at(probe.PhaseTLS, "STARTTLS")
	if rep, err = command(ss.raw, br, "STARTTLS"); err != nil {
		return nil, err
	}
	if rep.Code != 220 {
		return nil, &probe.Rejection{Reason: probe.ReasonTLS, Code: rep.Code, Message: "STARTTLS: " + sanitize(rep.String())}
	}
	if br.Buffered() > 0 {
		// Bytes sent before the handshake must not pass for protected
		// ones (the STARTTLS injection attacks).
		return nil, &probe.Rejection{Reason: probe.ReasonProtocol, Message: "STARTTLS: server sent data before the TLS handshake"}
	}
	ss.label = "TLS handshake"
	tc, notAfter, err := probe.Handshake(ctx, ss.raw, ss.probe.tlsConfig)
	ss.notAfter = notAfter
	return tc, err
}

// command writes one command line and reads the reply.
func command(w io.Writer, br *bufio.Reader, line string) (Reply, error) {
	if _, err := io.WriteString(w, line+"\r\n"); err != nil {
		return Reply{}, err
	}
	return readReply(br)
}

// hasExtension reports whether an EHLO reply lists the extension ext.
func hasExtension(rep Reply, ext string) bool {
	for _, l := range rep.Lines[1:] {
		if kw, _, _ := strings.Cut(l, " "); strings.EqualFold(kw, ext) {
			return true
		}
	}
	return false
}

// converse runs EHLO (again, after STARTTLS), AUTH and the transaction.
func (ss *smtpSession) converse(c *smtp.Client) error {
	p := ss.probe
	ss.at(PhaseEHLO, "EHLO")
	if err := c.Hello(p.helo); err != nil {
		return ss.reject(probe.ReasonProtocol, err)
	}
	if p.auth != nil {
		if err := ss.authenticate(c); err != nil {
			return err
		}
	}
	if p.send != nil {
		return ss.transact(c)
	}
	return nil
}

// authenticate runs AUTH with the configured or the best offered mechanism.
func (ss *smtpSession) authenticate(c *smtp.Client) error {
	a := ss.probe.auth
	ss.at(PhaseAuth, "AUTH")
	ok, offered := c.Extension("AUTH")
	if !ok {
		return &probe.Rejection{Reason: probe.ReasonAuth, Message: "server offers no AUTH"}
	}
	mech := a.mechanism
	if mech == "" {
		mech = pickMechanism(offered)
	}
	if mech == "" || !c.SupportsAuth(mech) {
		want := cmp.Or(mech, "PLAIN or LOGIN")
		return &probe.Rejection{Reason: probe.ReasonAuth, Message: fmt.Sprintf("server does not offer AUTH %s (offers %s)", want, sanitize(offered))}
	}
	var client sasl.Client
	if mech == sasl.Plain {
		client = sasl.NewPlainClient("", a.username, a.password)
	} else {
		client = sasl.NewLoginClient(a.username, a.password)
	}
	ss.label = "AUTH " + mech
	return ss.reject(probe.ReasonAuth, c.Auth(client))
}

// pickMechanism picks PLAIN if offered, else LOGIN, else "".
func pickMechanism(offered string) string {
	var login bool
	for m := range strings.FieldsSeq(offered) {
		switch strings.ToUpper(m) {
		case sasl.Plain:
			return sasl.Plain
		case sasl.Login:
			login = true
		}
	}
	if login {
		return sasl.Login
	}
	return ""
}

// transact sends one message: MAIL FROM, RCPT TO and DATA.
func (ss *smtpSession) transact(c *smtp.Client) error {
	send := ss.probe.send
	ss.at(PhaseData, "MAIL FROM <"+send.From+">")
	if err := c.Mail(send.From, nil); err != nil {
		return ss.reject(probe.ReasonProtocol, err)
	}
	ss.label = "RCPT TO <" + send.To + ">"
	if err := c.Rcpt(send.To, nil); err != nil {
		return ss.reject(probe.ReasonProtocol, err)
	}
	ss.label = "DATA"
	w, err := c.Data()
	if err != nil {
		return ss.reject(probe.ReasonProtocol, err)
	}
	msg, err := ss.message()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	ss.label = "end of DATA"
	return ss.reject(probe.ReasonProtocol, w.Close())
}

// message is the probe's mail: unique Message-ID, marked as a probe.
func (ss *smtpSession) message() (string, error) {
	p := ss.probe
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, h := range [][2]string{
		{"Message-ID", "<" + hex.EncodeToString(id) + "@tocsin>"},
		{"Date", p.now().Format(time.RFC1123Z)},
		{"From", "<" + p.send.From + ">"},
		{"To", "<" + p.send.To + ">"},
		{"Subject", "tocsin probe"},
		{"X-Tocsin-Probe", p.name},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=us-ascii"},
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\nSynthetic message from the tocsin monitoring probe. Safe to discard.\r\n")
	return b.String(), nil
}

// reject turns a reply go-smtp did not want into a rejection with reason;
// other errors (nil included) pass through.
func (ss *smtpSession) reject(reason probe.Reason, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return err
	}
	return &probe.Rejection{Reason: reason, Code: se.Code, Message: ss.label + ": " + formatSMTPError(se)}
}

// formatSMTPError is a reply as sent: "550 5.1.1 unknown user".
func formatSMTPError(se *smtp.SMTPError) string {
	s := fmt.Sprintf("%03d", se.Code)
	if ec := se.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode {
		s += fmt.Sprintf(" %d.%d.%d", ec[0], ec[1], ec[2])
	}
	if se.Message != "" {
		s += " " + se.Message
	}
	return sanitize(s)
}

// explain classifies an error from run: a reason, a message for people and
// the reply code that caused it (0 if none). A connection that breaks once
// the conversation has begun is a protocol failure, not a connect one: the
// server was reached and then misbehaved. Inside a TLS handshake every
// failure is a TLS one.
func (ss *smtpSession) explain(ctx context.Context, err error, budget time.Duration) (probe.Reason, string, int) {
	var rej *probe.Rejection
	if errors.As(err, &rej) {
		return rej.Reason, rej.Message, rej.Code
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Whatever broke, it broke because the probe was called off.
		return probe.ReasonError, "probe canceled", 0
	}
	reason, msg := probe.Classify(ctx, err)
	switch {
	case reason == probe.ReasonTimeout:
		return reason, probe.TimeoutMessage(ss.stage(), budget), 0
	case reason == probe.ReasonError || ss.phase == probe.PhaseConnect || reason == probe.ReasonTLS:
		return reason, msg, 0
	case isReplyTooLong(err):
		msg = errReplyTooLong.Error()
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		msg = "connection closed by the server"
	case reason == probe.ReasonProtocol:
		// Unclipped: the text may quote the server, who may quote the
		// password; Probe scrubs it before it clips.
		msg = err.Error()
	}
	reason = probe.ReasonProtocol
	if ss.phase == probe.PhaseTLS {
		reason = probe.ReasonTLS
	}
	return reason, ss.label + ": " + sanitize(msg), 0
}

// stage says where the conversation is, after "timed out".
func (ss *smtpSession) stage() string {
	switch {
	case ss.phase == probe.PhaseConnect:
		return "connecting"
	case ss.phase == PhaseBanner:
		return "waiting for the greeting"
	case ss.label == "TLS handshake":
		return "in the TLS handshake"
	case ss.label == "end of DATA":
		return "waiting for the message to be accepted"
	}
	return "in " + ss.label
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
