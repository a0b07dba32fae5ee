package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
)

// HTTP defaults, applied when the check leaves the value at zero.
const (
	DefaultMaxBodyBytes = 1 << 20 // max_body_bytes
	DefaultMaxRedirects = 10      // max_redirects, when following redirects
	// DefaultTimeout bounds a probe whose context has no deadline. The runner
	// normally sets the check's timeout; this is a safety net.
	DefaultTimeout = 10 * time.Second
	// DefaultUserAgent is sent when neither Options nor the headers set one.
	DefaultUserAgent = "tocsin"
)

// MaxHeaderBytes bounds the response headers a probe accepts.
const MaxHeaderBytes = 1 << 20

// Options are the process-wide settings a prober is built with.
type Options struct {
	// Resolver resolves target host names; nil uses net.DefaultResolver.
	Resolver *net.Resolver
	// SourceAddr binds every connection the probes open (HTTP, TCP, SMTP,
	// the queue sources' HTTP and Redis clients) to this local address, so
	// a replica probes from one interface (scheduler.source_address); nil
	// lets the system choose.
	SourceAddr net.IP
	// Now reads the clock for certificate checks (expiry warning and
	// verification time); nil uses time.Now.
	Now func() time.Time
	// UserAgent is sent unless the check sets its own, e.g. "tocsin/1.2.0";
	// empty uses DefaultUserAgent.
	UserAgent string
	// Beats reads heartbeat checks' beats; required for heartbeat checks.
	Beats BeatReader
	// Shared is what the probers of one config share (see Shared); nil
	// shares nothing.
	Shared *Shared
}

// HTTP probes an HTTP(S) endpoint. It is built once per check by NewHTTP and
// is safe for concurrent use; every Probe opens a fresh connection.
type HTTP struct {
	rawURL          string
	method          string
	header          http.Header
	host            string // Host header override, "" for the URL's
	body            string
	expect          statusMatcher
	contains        string
	re              *regexp.Regexp
	follow          bool
	maxRedirects    int
	degradedLatency time.Duration
	maxBody         int64
	tlsConfig       *tls.Config
	certWarning     time.Duration
	dialer          *net.Dialer
	now             func() time.Time
	secrets         []string // scrubbed from every message
	bodyJSON        []jsonAssertion
}

var _ Prober = (*HTTP)(nil)

// NewHTTP validates c and translates it into a ready prober. Every problem
// is reported, each naming its key ("http.body_regex: ...").
func NewHTTP(c config.HTTPCheck, opts Options) (*HTTP, error) {
	h := &HTTP{
		method:          c.Method,
		body:            c.Body,
		contains:        c.BodyContains,
		follow:          c.FollowRedirects == nil || *c.FollowRedirects,
		maxRedirects:    c.MaxRedirects,
		degradedLatency: c.DegradedLatency,
		maxBody:         c.MaxBodyBytes,
		certWarning:     c.TLS.CertExpiryWarning,
		dialer:          NewDialer(opts),
		now:             opts.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	h.rawURL = c.URL.Reveal()
	target, err := ParseTarget("http.url", h.rawURL)
	fail(err)
	fail(h.applyDefaults())
	if c.BodyRegex != "" {
		h.re, err = regexp.Compile(c.BodyRegex)
		fail(wrapKey("http.body_regex", err))
	}
	h.expect, err = parseExpectStatus(c.ExpectStatus)
	fail(err)
	h.bodyJSON, err = parseJSONAssertions(c.BodyJSON)
	fail(err)
	h.tlsConfig, err = buildTLSConfig(c.TLS, opts.Now, opts.Shared)
	fail(err)
	h.header, h.host, err = buildHeader(c.Headers)
	fail(err)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	auth, err := authHeader(c, h.header)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		h.header.Set("Authorization", auth)
	}
	switch {
	case len(h.header) == 0:
		h.header = opts.Shared.userAgentHeader(cmp.Or(opts.UserAgent, DefaultUserAgent))
	case h.header.Get("User-Agent") == "":
		h.header.Set("User-Agent", cmp.Or(opts.UserAgent, DefaultUserAgent))
	}
	h.secrets = secretsOf(target, h.rawURL, h.header, auth)
	return h, nil
}

// applyDefaults fills in zero values and rejects negative ones.
func (h *HTTP) applyDefaults() error {
	var errs []error
	h.method = cmp.Or(h.method, http.MethodGet)
	if !isToken(h.method) {
		errs = append(errs, fmt.Errorf("http.method: %q is not a valid method", h.method))
	}
	if h.maxBody < 0 {
		errs = append(errs, errors.New("http.max_body_bytes: must not be negative"))
	} else if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxRedirects < 0 {
		errs = append(errs, errors.New("http.max_redirects: must not be negative"))
	} else if h.maxRedirects == 0 {
		h.maxRedirects = DefaultMaxRedirects
	}
	if h.degradedLatency < 0 {
		errs = append(errs, errors.New("http.degraded_latency: must not be negative"))
	}
	return errors.Join(errs...)
}

// Probe sends one request and judges the response. It never reuses a
// connection and never runs past ctx's deadline (DefaultTimeout if none).
func (h *HTTP) Probe(ctx context.Context) Result {
	start := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
		deadline = start.Add(DefaultTimeout)
	}
	tr := newTracer(start)
	res := Result{Start: start}
	ex := h.send(httptrace.WithClientTrace(ctx, tr.clientTrace()), tr)
	res.Duration = time.Since(start)
	res.Phases = tr.phases()
	res.StatusCode = ex.status
	res.CertNotAfter = ex.notAfter
	now := h.now()
	res.Warnings = CertWarnings(ex.notAfter, now, h.certWarning)
	if ex.err != nil {
		res.Status = StatusDown
		res.Reason, res.Message = Classify(ctx, ex.err)
		if res.Reason == ReasonTimeout {
			// The budget, not the elapsed time: it is the number the
			// user configured.
			res.Message = TimeoutMessage(ex.stage, Budget(start, deadline))
		}
		res.Message = h.scrub(res.Message)
		return res
	}
	res.Status, res.Reason, res.Message = h.judge(ex, now, res.Duration)
	res.Message = h.scrub(res.Message)
	return res
}

// exchange is what one request brought back.
type exchange struct {
	status    int
	notAfter  time.Time
	body      []byte
	truncated bool
	err       error
	stage     string // where err happened, for timeout messages
}

// send sends the request on a transport of its own and reads at most
// maxBody bytes of the answer. A status mismatch skips the body.
func (h *HTTP) send(ctx context.Context, tr *tracer) exchange {
	client, transport := h.newClient()
	defer transport.CloseIdleConnections()
	var body io.Reader
	if h.body != "" {
		body = strings.NewReader(h.body)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.rawURL, body)
	if err != nil {
		return exchange{err: err}
	}
	req.Header = h.header.Clone()
	if h.host != "" {
		req.Host = h.host
	}
	resp, err := client.Do(req)
	var ex exchange
	if resp != nil {
		// Also set when a redirect was refused: the last response counts.
		ex.status, ex.notAfter = resp.StatusCode, leafNotAfter(resp.TLS)
	}
	if err != nil {
		ex.err, ex.stage = err, tr.currentStage()
		if ex.notAfter.IsZero() {
			ex.notAfter = rejectedNotAfter(err)
		}
		return ex
	}
	defer resp.Body.Close()
	if !h.expect.match(resp.StatusCode) {
		return ex
	}
	tr.setStage(stageBody)
	// Read one byte past the cap to tell a body of exactly maxBody bytes
	// from a longer one. Closing the rest unread drops the connection.
	ex.body, ex.err = io.ReadAll(io.LimitReader(resp.Body, h.maxBody+1))
	if int64(len(ex.body)) > h.maxBody {
		ex.body, ex.truncated = ex.body[:h.maxBody], true
	}
	if ex.err != nil {
		ex.stage = stageBody
	}
	return ex
}

// newClient builds a client that dials the target directly (no proxy from
// the environment), uses h's resolver and TLS settings and keeps nothing
// alive. Every timeout comes from the request's context.
func (h *HTTP) newClient() (*http.Client, *http.Transport) {
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            h.dialer.DialContext,
		TLSClientConfig:        h.tlsConfig.Clone(),
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: MaxHeaderBytes,
	}
	return &http.Client{Transport: transport, CheckRedirect: h.checkRedirect}, transport
}

// checkRedirect enforces follow_redirects and max_redirects.
func (h *HTTP) checkRedirect(_ *http.Request, via []*http.Request) error {
	if !h.follow {
		return http.ErrUseLastResponse
	}
	if len(via) > h.maxRedirects {
		return fmt.Errorf("%w (limit %d)", errTooManyRedirects, h.maxRedirects)
	}
	return nil
}

// judge rates a completed exchange: status, body, then an expired
// certificate and latency (JudgeSoft).
func (h *HTTP) judge(ex exchange, now time.Time, took time.Duration) (Status, Reason, string) {
	if !h.expect.match(ex.status) {
		return StatusDown, ReasonStatus, fmt.Sprintf("unexpected status %d (want %s)", ex.status, h.expect.want)
	}
	if msg := h.bodyMismatch(ex); msg != "" {
		if ex.truncated {
			msg += " (body truncated at " + strconv.FormatInt(h.maxBody, 10) + " bytes)"
		}
		return StatusDown, ReasonBody, msg
	}
	return JudgeSoft(ex.notAfter, now, took, h.degradedLatency)
}

// bodyMismatch checks body_contains, body_regex and body_json; "" when
// they pass.
func (h *HTTP) bodyMismatch(ex exchange) string {
	if h.contains != "" && !strings.Contains(string(ex.body), h.contains) {
		return fmt.Sprintf("body does not contain %q", Clip(h.contains))
	}
	if h.re != nil && !h.re.Match(ex.body) {
		return fmt.Sprintf("body does not match /%s/", Clip(h.re.String()))
	}
	if len(h.bodyJSON) > 0 {
		return jsonMismatch(ex.body, h.bodyJSON)
	}
	return ""
}

// scrub replaces every secret of the check in msg.
func (h *HTTP) scrub(msg string) string {
	for _, s := range h.secrets {
		msg = strings.ReplaceAll(msg, s, "<redacted>")
	}
	return msg
}

// wrapKey prefixes err with a config key, nil stays nil.
func wrapKey(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", key, err)
}
