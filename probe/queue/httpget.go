package queue

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// maxSourceBody bounds the JSON document an HTTP queue source reads.
const maxSourceBody = 1 << 20

// httpGetter fetches JSON documents for the http_json and prometheus queue
// sources: one GET, HTTP basic auth, the check's TLS settings, the context's
// deadline and a bounded body. It is safe for concurrent use.
type httpGetter struct {
	base      *url.URL // userinfo removed: credentials travel only in the header
	user      string
	pass      string
	auth      bool
	userAgent string
	client    *http.Client
	secrets   []string // scrubbed from every message
}

// newHTTPGetter validates the url, credential and tls_config keys of q.
// Credentials come from username/password(_file) or from the URL's userinfo,
// not both. Errors name the key and never hold the URL or a credential.
func newHTTPGetter(q config.QueueCheck, o probe.Options) (*httpGetter, error) {
	raw := q.URL.Reveal()
	u, err := probe.ParseTarget("queue.url", raw)
	if err != nil {
		return nil, err
	}
	g := &httpGetter{userAgent: cmp.Or(o.UserAgent, probe.DefaultUserAgent)}
	pass := q.Password.Reveal()
	if pass == "" && q.PasswordFile != "" {
		b, err := os.ReadFile(q.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("queue.password_file: %w", err)
		}
		pass = strings.TrimSpace(string(b))
	}
	switch {
	case u.User != nil && (q.Username != "" || pass != ""):
		return nil, errors.New("queue.url: credentials in the URL cannot be combined with queue.username or queue.password")
	case u.User != nil:
		g.user = u.User.Username()
		g.pass, _ = u.User.Password()
		g.auth = true
	case q.Username != "" || pass != "":
		g.user, g.pass, g.auth = q.Username, pass, true
	}
	g.secrets = sourceSecrets(u, raw, g.user, g.pass)
	u.User = nil
	g.base = u

	now := o.Now
	tlsConfig, err := probe.TLSConfigFor("queue.tls_config", q.TLSConfig, now, o.Shared)
	if err != nil {
		return nil, err
	}
	g.client = sourceClient(o, tlsConfig)
	return g, nil
}

// sourceClient is the HTTP client of a queue source: no proxy, no
// connection kept between reads, bounded headers, the probe's resolver.
func sourceClient(o probe.Options, tlsConfig *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                  nil,
		DialContext:            probe.NewDialer(o).DialContext,
		TLSClientConfig:        tlsConfig,
		DisableKeepAlives:      true, // nothing left running between reads
		MaxResponseHeaderBytes: probe.MaxHeaderBytes,
	}}
}

// sourceSecrets lists what must never show in a message: the URL, its
// query and the longer query values (tokens), the password and the
// Authorization credentials. Short values are left out: redacting every
// "json" would garble messages and such a value protects nothing.
func sourceSecrets(u *url.URL, raw, user, pass string) []string {
	cand := []string{raw, u.RawQuery, pass}
	if pass != "" {
		cand = append(cand, url.QueryEscape(pass), base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				cand = append(cand, v)
			}
		}
	}
	var out []string
	for _, s := range cand {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// safeURL is the target without credentials or query, for printing.
func (g *httpGetter) safeURL() string {
	u := *g.base
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// response is a completed GET: the status and at most maxSourceBody bytes.
type response struct {
	status int
	body   []byte
}

// get fetches u. A failure to reach the server or to read the whole body is
// returned as the network error it is (without the *url.Error wrapper, whose
// text holds the URL), for the prober to classify; a body over the limit is
// a protocol error. Without a deadline on ctx, probe.DefaultTimeout applies.
func (g *httpGetter) get(ctx context.Context, u *url.URL) (response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probe.DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return response{}, sourceErr(probe.ReasonError, "build request: %s", g.scrub(probe.UnwrapURLError(err).Error()))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", g.userAgent)
	if g.auth {
		req.SetBasicAuth(g.user, g.pass)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return response{}, probe.UnwrapURLError(err)
	}
	defer resp.Body.Close()
	// One byte past the cap tells a body of exactly the limit from a longer
	// one; closing the rest unread drops the connection.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSourceBody+1))
	if err != nil {
		return response{}, err
	}
	if len(body) > maxSourceBody {
		return response{}, sourceErr(probe.ReasonProtocol, "response body larger than %d bytes", maxSourceBody)
	}
	return response{status: resp.StatusCode, body: body}, nil
}

// statusErr is the error for an unexpected HTTP status: auth for 401 and
// 403 (the credentials were refused or are missing), protocol otherwise.
func statusErr(code int) error {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return sourceErr(probe.ReasonAuth, "HTTP %d %s: credentials missing or refused", code, http.StatusText(code))
	}
	return sourceErr(probe.ReasonProtocol, "unexpected HTTP status %d %s", code, http.StatusText(code))
}

// scrub replaces every secret of the source in msg and clips it.
func (g *httpGetter) scrub(msg string) string {
	for _, s := range g.secrets {
		msg = strings.ReplaceAll(msg, s, redactedText)
	}
	return probe.Clip(msg)
}

// redactedText replaces a secret in a message.
const redactedText = "<redacted>"
