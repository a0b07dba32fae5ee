package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxMessageLen bounds Result.Message: error text can carry bytes the target
// sent, and a message is for people, not a dump.
const MaxMessageLen = 300

// errTooManyRedirects is returned when a probe would follow more redirects
// than its check allows.
var errTooManyRedirects = errors.New("too many redirects")

// Classify turns a probe error into a Reason and a short message for people.
// The message describes the innermost error and never the request URL, which
// may carry credentials or a token: *url.Error wrappers are peeled off first.
// Timeout messages are generic ("timed out"); a prober that knows where it
// stalled says so itself (see TimeoutMessage).
func Classify(ctx context.Context, err error) (Reason, string) {
	err = UnwrapURLError(err)
	switch {
	case err == nil:
		return ReasonNone, ""
	case errors.Is(err, errTooManyRedirects):
		return ReasonRedirect, err.Error()
	case isTimeout(ctx, err):
		return ReasonTimeout, "timed out"
	case errors.Is(err, context.Canceled):
		return ReasonError, "probe canceled"
	}
	if msg, ok := tlsError(err); ok {
		return ReasonTLS, Clip(msg)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS, Clip("dns lookup failed: " + dnsErr.Err)
	}
	if msg, ok := connectError(err); ok {
		return ReasonConnect, Clip(msg)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ReasonProtocol, "connection closed before a complete response"
	}
	return ReasonProtocol, Clip(err.Error())
}

// UnwrapURLError strips every *url.Error in err's chain; their text starts
// with the method and the full URL.
func UnwrapURLError(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			return err
		}
		err = ue.Err
	}
}

// isTimeout reports whether err is, or was caused by, a deadline.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsError describes certificate and handshake failures.
func tlsError(err error) (string, bool) {
	var (
		verr   *tls.CertificateVerificationError
		inval  x509.CertificateInvalidError
		unk    x509.UnknownAuthorityError
		host   x509.HostnameError
		sysErr x509.SystemRootsError
		rec    tls.RecordHeaderError
		alert  tls.AlertError
		ech    *tls.ECHRejectionError
	)
	switch {
	case errors.As(err, &verr):
		// Its text is "tls: failed to verify certificate: x509: ...".
		return verr.Error(), true
	case errors.As(err, &inval):
		return inval.Error(), true
	case errors.As(err, &unk):
		return unk.Error(), true
	case errors.As(err, &host):
		return host.Error(), true
	case errors.As(err, &sysErr):
		return sysErr.Error(), true
	case errors.As(err, &rec):
		return "tls: server did not answer with a TLS handshake", true
	case errors.As(err, &alert):
		return "tls: server sent alert: " + strings.TrimPrefix(alert.Error(), "tls: "), true
	case errors.As(err, &ech):
		return "tls: encrypted client hello rejected", true
	}
	// The server's alerts arrive as an unexported type inside a *net.OpError.
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" && opErr.Err != nil {
		return "tls: server sent alert: " + strings.TrimPrefix(opErr.Err.Error(), "tls: "), true
	}
	// Most other handshake failures are plain errors from crypto/tls.
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "tls: "):
		return msg, true
	case strings.Contains(msg, "HTTP response to HTTPS client"): // net/http's own error
		return "tls: server answered with plain HTTP", true
	}
	return "", false
}

// connectError describes failures to establish or keep a connection. The
// address is left out: it adds nothing the check name doesn't say.
func connectError(err error) (string, bool) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer", true
	case errors.Is(err, syscall.ECONNABORTED):
		return "connection aborted", true
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable", true
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable", true
	case errors.Is(err, syscall.EPIPE):
		return "connection closed by peer (broken pipe)", true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Err != nil {
		return "connect: " + opErr.Err.Error(), true
	}
	return "", false
}

// Budget is the time a probe had, for timeout messages: the caller set the
// deadline a moment before the probe started — longer before on a busy
// machine — so the exact figure would read "496ms" for a 500ms timeout.
// It can only fall short of the configured timeout, so from 100ms up it is
// rounded up to 10ms: the configured figure for any lag under 10ms.
func Budget(start, deadline time.Time) time.Duration {
	const step = 10 * time.Millisecond
	b := deadline.Sub(start)
	if r := b % step; b >= 100*time.Millisecond && r != 0 {
		b += step - r
	}
	return b
}

// TimeoutMessage says where a probe stalled and after how long.
func TimeoutMessage(stage string, elapsed time.Duration) string {
	if stage == "" {
		return "no response within " + fmtDuration(elapsed)
	}
	return fmt.Sprintf("timed out %s after %s", stage, fmtDuration(elapsed))
}

// fmtDuration rounds d for people: 2.3s, 450ms, 1m30s.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.String()
}

// Clip shortens s to MaxMessageLen bytes without splitting a UTF-8 sequence.
func Clip(s string) string {
	if len(s) <= MaxMessageLen {
		return s
	}
	cut := MaxMessageLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// maxQuoted bounds how much of a peer's bytes a message quotes.
const maxQuoted = 200

// QuotePeer quotes at most maxQuoted bytes of what a peer sent, with
// control and non-UTF-8 bytes escaped, so it is safe to show.
func QuotePeer(b []byte) string {
	if len(b) <= maxQuoted {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:maxQuoted])) + "…"
}
