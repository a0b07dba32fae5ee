package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"time"

	"github.com/tocsin/tocsin/config"
)

// maxExpectBytes bounds what the TCP probe reads while waiting for expect.
const maxExpectBytes = 64 << 10

// TCP probes a TCP service: connect, optionally TLS, optionally write send
// and read until expect matches (like blackbox_exporter's query_response).
// It is built once per check by NewTCP and is safe for concurrent use.
//
// Phases: connect, tls, exchange.
type TCP struct {
	address         string
	tlsConfig       *tls.Config // nil without TLS
	certWarning     time.Duration
	send            string
	expect          *regexp.Regexp
	degradedLatency time.Duration
	dialer          *net.Dialer
	now             func() time.Time
}

var _ Prober = (*TCP)(nil)

// NewTCP validates c and translates it into a ready prober. Every problem
// is reported, each naming its key ("tcp.expect: ..."). send is written as
// it is: YAML double-quoted strings already turn "\r\n" into CR LF.
func NewTCP(c config.TCPCheck, o Options) (*TCP, error) {
	t := &TCP{
		address:         c.Address,
		certWarning:     c.TLSConfig.CertExpiryWarning,
		send:            c.Send,
		degradedLatency: c.DegradedLatency,
		dialer:          NewDialer(o),
		now:             o.Now,
	}
	if t.now == nil {
		t.now = time.Now
	}
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	host, err := SplitAddress("tcp.address", c.Address)
	fail(err)
	switch {
	case c.TLS:
		t.tlsConfig, err = TLSConfigFor("tcp.tls_config", c.TLSConfig, o.Now, o.Shared)
		fail(err)
		if t.tlsConfig != nil && t.tlsConfig.ServerName == "" {
			t.tlsConfig = t.tlsConfig.Clone() // shared (Shared.tlsConfig): never written
			t.tlsConfig.ServerName = host
		}
	case c.TLSConfig != (config.TLS{}):
		fail(errors.New("tcp.tls_config: needs tls: true"))
	}
	if c.Expect != "" {
		t.expect, err = regexp.Compile(c.Expect)
		fail(wrapKey("tcp.expect", err))
	}
	if t.degradedLatency < 0 {
		fail(errors.New("tcp.degraded_latency: must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Probe connects, runs the exchange and judges it. It never runs past
// ctx's deadline (DefaultTimeout if none).
func (t *TCP) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, deadline, cancel := WithDeadline(ctx, start)
	defer cancel()
	timer := NewPhaseTimer()
	notAfter, got, err := t.run(ctx, deadline, timer)
	now := t.now()
	res := Result{Start: start, Duration: time.Since(start), Phases: timer.Phases(), CertNotAfter: notAfter,
		Warnings: CertWarnings(notAfter, now, t.certWarning)}
	if err != nil {
		res.Status = StatusDown
		res.Reason, res.Message = t.explain(ctx, err, timer, got, Budget(start, deadline))
		return res
	}
	res.Status, res.Reason, res.Message = JudgeSoft(notAfter, now, res.Duration, t.degradedLatency)
	return res
}

// run connects and exchanges; got is what was read while waiting for
// expect. The certificate's expiry is returned even when verification
// rejected it.
func (t *TCP) run(ctx context.Context, deadline time.Time, timer *PhaseTimer) (time.Time, []byte, error) {
	timer.Begin(PhaseConnect)
	conn, release, err := DialTarget(ctx, t.dialer, t.address, deadline)
	if err != nil {
		return time.Time{}, nil, err
	}
	defer release() // closes the TCP connection: no close_notify to block on
	var notAfter time.Time
	if t.tlsConfig != nil {
		timer.Begin(PhaseTLS)
		if conn, notAfter, err = Handshake(ctx, conn, t.tlsConfig); err != nil {
			return notAfter, nil, err
		}
	}
	if t.send == "" && t.expect == nil {
		return notAfter, nil, nil
	}
	timer.Begin(PhaseExchange)
	got, err := t.exchange(conn)
	return notAfter, got, err
}

// exchange writes send and reads until expect matches what was read so
// far, the connection ends, maxExpectBytes are read or the deadline passes.
func (t *TCP) exchange(conn net.Conn) ([]byte, error) {
	if t.send != "" {
		if _, err := io.WriteString(conn, t.send); err != nil {
			return nil, err
		}
	}
	if t.expect == nil {
		return nil, nil
	}
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for {
		n, err := conn.Read(chunk[:min(len(chunk), maxExpectBytes-len(buf))])
		buf = append(buf, chunk[:n]...)
		switch {
		case n > 0 && t.expect.Match(buf):
			return buf, nil
		case errors.Is(err, io.EOF):
			return buf, &Rejection{ReasonProtocol, 0, t.notSeen(buf, " before the connection closed")}
		case err != nil:
			return buf, err
		case len(buf) >= maxExpectBytes:
			return buf, &Rejection{ReasonProtocol, 0, t.notSeen(buf, fmt.Sprintf(" in the first %d KiB", maxExpectBytes>>10))}
		}
	}
}

// notSeen says expect did not match and what came instead.
func (t *TCP) notSeen(got []byte, where string) string {
	return fmt.Sprintf("expected /%s/ not seen%s; got %s", Clip(t.expect.String()), where, gotText(got))
}

// gotText quotes what the peer sent, for messages.
func gotText(got []byte) string {
	if len(got) == 0 {
		return "nothing"
	}
	return QuotePeer(got)
}

// explain classifies an error from run. A connection that breaks after it
// was made is a protocol failure; within the handshake, a TLS one.
func (t *TCP) explain(ctx context.Context, err error, timer *PhaseTimer, got []byte, budget time.Duration) (Reason, string) {
	var rej *Rejection
	if errors.As(err, &rej) {
		return rej.Reason, rej.Message
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Whatever broke, it broke because the probe was called off.
		return ReasonError, "probe canceled"
	}
	phase := ""
	if ps := timer.Phases(); len(ps) > 0 {
		phase = ps[len(ps)-1].Name
	}
	reason, msg := Classify(ctx, err)
	switch {
	case reason == ReasonTimeout && phase == PhaseExchange && t.expect != nil:
		return reason, fmt.Sprintf("%s; got %s", TimeoutMessage("waiting for /"+Clip(t.expect.String())+"/", budget), gotText(got))
	case reason == ReasonTimeout:
		return reason, TimeoutMessage(map[string]string{PhaseConnect: "connecting", PhaseTLS: "in the TLS handshake",
			PhaseExchange: "sending"}[phase], budget)
	case reason == ReasonError || phase == PhaseConnect || reason == ReasonTLS:
		return reason, msg
	case phase == PhaseTLS:
		return ReasonTLS, "TLS handshake: " + msg
	case t.expect != nil:
		return ReasonProtocol, t.notSeen(got, ": "+msg)
	}
	return ReasonProtocol, msg
}
