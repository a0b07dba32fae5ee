package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// What every prober that opens a connection shares: HTTP, TCP and SMTP
// (probe/smtp), and the queue sources' clients (probe/queue) through
// NewDialer: the deadline, the dialer, the TLS handshake, the address
// check and the verdict on a conversation that went through.

// WithDeadline returns ctx bounded by DefaultTimeout when it has no
// deadline of its own, and that deadline.
func WithDeadline(ctx context.Context, start time.Time) (context.Context, time.Time, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return ctx, d, func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	return ctx, start.Add(DefaultTimeout), cancel
}

// NewDialer is the dialer of every connection a prober opens: o's
// resolver, and o's source address as the local end. A net.Dialer is safe
// for concurrent use.
func NewDialer(o Options) *net.Dialer {
	return o.Shared.dialer(o.Resolver, o.SourceAddr, func() *net.Dialer {
		d := &net.Dialer{Resolver: o.Resolver}
		if o.SourceAddr != nil {
			d.LocalAddr = &net.TCPAddr{IP: o.SourceAddr}
		}
		return d
	})
}

// DialTarget connects to addr and pins the connection's deadline to
// deadline, so every later read and write stops there. Canceling ctx
// closes the connection, which interrupts any blocked read or write. The
// returned function releases both; call it when done.
func DialTarget(ctx context.Context, d *net.Dialer, addr string, deadline time.Time) (net.Conn, func(), error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() { stop(); conn.Close() }, nil
}

// Handshake runs a TLS client handshake on conn and returns the TLS
// connection and the leaf certificate's expiry, which is also known when
// verification rejected the certificate.
func Handshake(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, time.Time, error) {
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, rejectedNotAfter(err), err
	}
	cs := tc.ConnectionState()
	return tc, leafNotAfter(&cs), nil
}

// SplitAddress checks a host:port target; key names it in errors.
func SplitAddress(key, addr string) (string, error) {
	if addr == "" {
		return "", errors.New(key + ": is required")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s: port %q is not a number in 1-65535", key, port)
	}
	if host == "" {
		return "", errors.New(key + ": host is missing")
	}
	return host, nil
}

// JudgeSoft rates a conversation that went through: an expired
// certificate makes it down (only reached with insecure_skip_verify, as
// verification rejects one), latency degraded. A certificate that expires
// soon does not count here: it is a warning (CertWarnings), not a status.
func JudgeSoft(notAfter, now time.Time, took, slowAbove time.Duration) (Status, Reason, string) {
	if !notAfter.IsZero() && !now.Before(notAfter) {
		return StatusDown, ReasonTLS, certExpiryMessage(notAfter, now)
	}
	if slowAbove > 0 && took > slowAbove {
		return StatusDegraded, ReasonLatency,
			fmt.Sprintf("responded in %s (degraded above %s)", fmtDuration(took), fmtDuration(slowAbove))
	}
	return StatusUp, ReasonNone, ""
}
