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
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// TestClassify covers errors as the standard library wraps them.
func TestClassify(t *testing.T) {
	t.Parallel()
	const secretURL = "https://user:canarypass@example.com/?token=canarytoken"
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: secretURL, Err: err} }
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	expiredCtx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		reason  Reason
		message string
	}{
		{name: "deadline", err: wrap(context.DeadlineExceeded), reason: ReasonTimeout, message: "timed out"},
		{name: "ctx expired", ctx: expiredCtx, err: wrap(errors.New("net/http: request canceled")), reason: ReasonTimeout},
		{name: "net timeout", err: wrap(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), reason: ReasonTimeout},
		{name: "canceled", err: wrap(context.Canceled), reason: ReasonError, message: "probe canceled"},
		{name: "dns", err: wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}),
			reason: ReasonDNS, message: "dns lookup failed: no such host"},
		{name: "refused", err: wrap(dial(syscall.ECONNREFUSED)), reason: ReasonConnect, message: "connection refused"},
		{name: "unreachable", err: wrap(dial(syscall.EHOSTUNREACH)), reason: ReasonConnect, message: "host unreachable"},
		{name: "reset", err: wrap(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), reason: ReasonConnect,
			message: "connection reset by peer"},
		{name: "other dial", err: wrap(&net.OpError{Op: "dial", Err: errors.New("no route")}), reason: ReasonConnect,
			message: "connect: no route"},
		{name: "unknown authority", err: wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			reason: ReasonTLS, message: "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{name: "bare x509", err: wrap(x509.CertificateInvalidError{Reason: x509.Expired}), reason: ReasonTLS,
			message: "x509: certificate has expired"},
		{name: "hostname", err: wrap(x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"a.test"}}, Host: "b.test"}),
			reason: ReasonTLS, message: "not b.test"},
		{name: "record header", err: wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			reason: ReasonTLS, message: "did not answer with a TLS handshake"},
		{name: "alert", err: wrap(&net.OpError{Op: "remote error", Err: tls.AlertError(42)}), reason: ReasonTLS,
			message: "tls: server sent alert: bad certificate"},
		{name: "redirects", err: wrap(fmt.Errorf("%w (limit 3)", errTooManyRedirects)), reason: ReasonRedirect,
			message: "too many redirects (limit 3)"},
		{name: "eof", err: wrap(io.EOF), reason: ReasonProtocol, message: "connection closed before a complete response"},
		{name: "other", err: wrap(errors.New("malformed HTTP status code")), reason: ReasonProtocol,
			message: "malformed HTTP status code"},
		{name: "long", err: errors.New(strings.Repeat("é", 400)), reason: ReasonProtocol, message: "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			reason, msg := Classify(ctx, tt.err)
			if reason != tt.reason || !strings.Contains(msg, tt.message) {
				t.Errorf("classify = %q, %q; want %q, containing %q", reason, msg, tt.reason, tt.message)
			}
			if strings.Contains(msg, "canary") || len(msg) > MaxMessageLen+len("…") {
				t.Errorf("message %q leaks the URL or is too long", msg)
			}
		})
	}
	if r, m := Classify(t.Context(), nil); r != ReasonNone || m != "" {
		t.Errorf("Classify(nil) = %q, %q", r, m)
	}
}

// TestNewHTTPErrors checks every problem is reported, naming its key, and
// that no error repeats a secret.
func TestNewHTTPErrors(t *testing.T) {
	t.Parallel()
	const ok = "https://user:canarypass@example.com/?token=canarytoken"
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  config.HTTPCheck
		want []string
	}{
		{name: "no url", cfg: config.HTTPCheck{}, want: []string{"http.url: is required"}},
		{name: "relative url", cfg: config.HTTPCheck{URL: "/health?token=canarytoken"}, want: []string{"http.url: must be an absolute"}},
		{name: "ftp url", cfg: config.HTTPCheck{URL: "ftp://user:canarypass@example.com/"}, want: []string{"http.url: must be"}},
		{name: "bad url", cfg: config.HTTPCheck{URL: "http://user:canarypass@exa mple.com/"}, want: []string{"http.url: "}},
		{name: "bad regex", cfg: config.HTTPCheck{URL: ok, BodyRegex: "("}, want: []string{"http.body_regex: error parsing regexp"}},
		{name: "bad json paths", cfg: config.HTTPCheck{URL: ok, BodyJSON: []config.JSONAssertion{{Path: "a..b"}, {Path: "ok"}, {Path: `a\x`}}},
			want: []string{"http.body_json[0].path: empty key at byte 2", `http.body_json[2].path: invalid escape at byte 1`}},
		{name: "bad status", cfg: config.HTTPCheck{URL: ok, ExpectStatus: []string{"200", "2x", "600"}},
			want: []string{`http.expect_status[1]: "2x"`, `http.expect_status[2]: "600"`}},
		{name: "bad method", cfg: config.HTTPCheck{URL: ok, Method: "GET /"}, want: []string{"http.method:"}},
		{name: "negatives", cfg: config.HTTPCheck{URL: ok, MaxBodyBytes: -1, MaxRedirects: -1, DegradedLatency: -1,
			TLS: config.TLS{CertExpiryWarning: -1}},
			want: []string{"http.max_body_bytes:", "http.max_redirects:", "http.degraded_latency:", "http.tls.cert_expiry_warning:"}},
		{name: "missing ca_file", cfg: config.HTTPCheck{URL: ok, TLS: config.TLS{CAFile: "/nonexistent/ca.pem"}},
			want: []string{"http.tls.ca_file: open /nonexistent/ca.pem"}},
		{name: "ca_file without PEM", cfg: config.HTTPCheck{URL: ok, TLS: config.TLS{CAFile: notPEM}},
			want: []string{"http.tls.ca_file: no PEM certificate"}},
		{name: "bad header", cfg: config.HTTPCheck{URL: ok, Headers: map[string]config.Secret{
			"Bad Name": "x", "X-Token": "canarytoken\r\nInjected: 1"}},
			want: []string{`http.headers: "Bad Name"`, "http.headers.X-Token: value contains a line break"}},
		{name: "two credentials", cfg: config.HTTPCheck{URL: ok, BearerToken: "canarytoken",
			BasicAuth: &config.BasicAuth{Username: "u", Password: "canarypass"}},
			want: []string{"http.bearer_token: cannot be combined with basic_auth"}},
		{name: "credentials and header", cfg: config.HTTPCheck{URL: ok, BearerToken: "canarytoken",
			Headers: map[string]config.Secret{"Authorization": "canarytoken"}},
			want: []string{"http.headers.Authorization: cannot be combined"}},
		{name: "missing token file", cfg: config.HTTPCheck{URL: ok, BearerTokenFile: "/nonexistent/token"},
			want: []string{"http.bearer_token_file: open /nonexistent/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHTTP(tt.cfg, Options{})
			if err == nil {
				t.Fatalf("NewHTTP = %v, want an error", h)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("error %q leaks a secret", err)
			}
		})
	}
}

// TestSecretFiles checks *_file credentials are read when the loader left
// the value empty.
func TestSecretFiles(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := mustHTTP(t, config.HTTPCheck{URL: "http://127.0.0.1/", BearerTokenFile: file}, Options{})
	if got := h.header.Get("Authorization"); got != "Bearer from-file" {
		t.Errorf("Authorization = %q", got)
	}
	h = mustHTTP(t, config.HTTPCheck{URL: "http://127.0.0.1/",
		BasicAuth: &config.BasicAuth{Username: "u", PasswordFile: file}}, Options{})
	if got := h.header.Get("Authorization"); got != "Basic dTpmcm9tLWZpbGU=" { // u:from-file
		t.Errorf("Authorization = %q", got)
	}
	if got := h.scrub("saw from-file and dTpmcm9tLWZpbGU="); strings.Contains(got, "from-file") || strings.Contains(got, "dTpm") {
		t.Errorf("scrub left a secret: %q", got)
	}
}

// TestMessageHelpers covers the wording of durations and expiry.
func TestMessageHelpers(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		2345 * time.Millisecond: "2.3s", 450 * time.Millisecond: "450ms", 499999 * time.Microsecond: "500ms",
		90 * time.Second: "1m30s", 1500 * time.Microsecond: "2ms", 10 * time.Microsecond: "10µs",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{left: 5*day + time.Hour, want: "certificate expires in 5 days (2026-03-06)"},
		{left: day + time.Hour, want: "certificate expires in 1 day (2026-03-02)"},
		{left: time.Hour, want: "certificate expires in less than a day (2026-03-01)"},
		{left: 0, want: "certificate expired less than a day ago (2026-03-01)"},
		{left: -time.Hour, want: "certificate expired less than a day ago (2026-03-01)"},
		{left: -3*day - time.Hour, want: "certificate expired 3 days ago (2026-02-26)"},
	} {
		if got := certExpiryMessage(now.Add(tc.left), now); got != tc.want {
			t.Errorf("certExpiryMessage(%v left) = %q, want %q", tc.left, got, tc.want)
		}
	}
	if got := TimeoutMessage("", 5*time.Second); got != "no response within 5s" {
		t.Errorf("TimeoutMessage = %q", got)
	}
	// The budget is the configured timeout although the probe started a
	// moment after its deadline was set.
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		timeout, late, want time.Duration
	}{
		{timeout: 500 * time.Millisecond, want: 500 * time.Millisecond},
		{timeout: 500 * time.Millisecond, late: 4*time.Millisecond + 700*time.Microsecond, want: 500 * time.Millisecond},
		{timeout: 500 * time.Millisecond, late: 9 * time.Millisecond, want: 500 * time.Millisecond},
		{timeout: 1500 * time.Millisecond, late: 3 * time.Millisecond, want: 1500 * time.Millisecond},
		{timeout: 10 * time.Second, late: 2 * time.Millisecond, want: 10 * time.Second},
		{timeout: 50 * time.Millisecond, late: 2 * time.Millisecond, want: 48 * time.Millisecond},
	} {
		deadline := start.Add(-tc.late).Add(tc.timeout)
		if got := Budget(start, deadline); got != tc.want {
			t.Errorf("Budget(%v timeout, started %v late) = %v, want %v", tc.timeout, tc.late, got, tc.want)
		}
	}
}
