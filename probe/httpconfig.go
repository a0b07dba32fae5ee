package probe

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tocsin/tocsin/config"
)

// statusMatcher is a parsed expect_status list: exact codes and classes.
type statusMatcher struct {
	codes   map[int]bool
	classes [6]bool // classes[2] is 2xx
	want    string  // for messages: "2xx" or "200, 3xx"
}

// parseExpectStatus parses codes ("200") and classes ("2xx"); an empty list
// means 2xx.
func parseExpectStatus(list []string) (statusMatcher, error) {
	if len(list) == 0 {
		list = []string{"2xx"}
	}
	m := statusMatcher{codes: map[int]bool{}}
	var errs []error
	want := make([]string, len(list))
	for i, raw := range list {
		s := strings.ToLower(strings.TrimSpace(raw))
		want[i] = s
		if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
			m.classes[s[0]-'0'] = true
			continue
		}
		code, err := strconv.Atoi(s)
		if err != nil || len(s) != 3 || code < 100 || code > 599 {
			errs = append(errs, fmt.Errorf("http.expect_status[%d]: %q is not a status code (100-599) or class (1xx-5xx)", i, raw))
			continue
		}
		m.codes[code] = true
	}
	m.want = strings.Join(want, ", ")
	return m, errors.Join(errs...)
}

// match reports whether code is expected.
func (m statusMatcher) match(code int) bool {
	if m.codes[code] {
		return true
	}
	class := code / 100
	return class >= 1 && class <= 5 && m.classes[class]
}

// ParseTarget checks the URL of key (http.url, queue.url). Errors never
// include the URL itself: it may carry credentials or a token.
func ParseTarget(key, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s: is required", key)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, UnwrapURLError(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: must be an absolute http:// or https:// URL", key)
	}
	return u, nil
}

// isToken reports whether s is an HTTP token, the grammar of methods and
// header names.
func isToken(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return !isTokenChar(r) }) < 0
}

// isTokenChar reports whether r may appear in an HTTP token (RFC 9110 §5.6.2).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r < 0x7f && strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// buildHeader validates the configured headers and reveals their values.
// A Host header is returned separately: net/http takes it from Request.Host.
func buildHeader(in map[string]config.Secret) (http.Header, string, error) {
	h := http.Header{}
	var host string
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(in)) { // stable error order
		val := in[name].Reveal()
		switch {
		case !isToken(name):
			errs = append(errs, fmt.Errorf("http.headers: %q is not a valid header name", name))
		case strings.ContainsAny(val, "\r\n\x00"):
			// The value is a secret: name the header, not the value.
			errs = append(errs, fmt.Errorf("http.headers.%s: value contains a line break or NUL", name))
		case http.CanonicalHeaderKey(name) == "Host":
			host = val
		default:
			h.Set(name, val)
		}
	}
	return h, host, errors.Join(errs...)
}

// secretValue returns s, or the trimmed content of file when s is empty and
// file is set. The config loader normally resolves *_file keys already; this
// keeps a probe built from a hand-made config honest.
func secretValue(s config.Secret, file, key string) (string, error) {
	if s != "" || file == "" {
		return s.Reveal(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("http.%s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// authHeader works out the Authorization value from basic_auth or
// bearer_token; "" when neither is set.
func authHeader(c config.HTTPCheck, header http.Header) (string, error) {
	token, err := secretValue(c.BearerToken, c.BearerTokenFile, "bearer_token_file")
	if err != nil {
		return "", err
	}
	var basic string
	if c.BasicAuth != nil {
		pass, err := secretValue(c.BasicAuth.Password, c.BasicAuth.PasswordFile, "basic_auth.password_file")
		if err != nil {
			return "", err
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.BasicAuth.Username, pass)
		basic = r.Header.Get("Authorization")
	}
	switch {
	case basic != "" && token != "":
		return "", errors.New("http.bearer_token: cannot be combined with basic_auth")
	case (basic != "" || token != "") && header.Get("Authorization") != "":
		return "", errors.New("http.headers.Authorization: cannot be combined with basic_auth or bearer_token")
	case token != "":
		return "Bearer " + token, nil
	}
	return basic, nil
}

// plainHeaders carry no credentials; their values may show in messages.
var plainHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Cache-Control": true,
	"Content-Type": true, "Host": true, "User-Agent": true,
}

// secretsOf lists the values that must never show in a message: the URL,
// its password and query, the credentials and the configured header values
// (but plainHeaders). Values shorter than 4 bytes are skipped; redacting
// every "1" would garble messages and such a value protects nothing.
func secretsOf(u *url.URL, raw string, header http.Header, auth string) []string {
	_, cred, _ := strings.Cut(auth, " ") // the token or base64 credentials
	cand := []string{raw, u.RawQuery, auth, cred}
	if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
		_, pass, _ := strings.Cut(string(dec), ":")
		cand = append(cand, pass)
	}
	if p, ok := u.User.Password(); ok {
		cand = append(cand, p, url.QueryEscape(p))
	}
	for _, vs := range u.Query() {
		cand = append(cand, vs...)
	}
	for name, vs := range header {
		if !plainHeaders[name] {
			cand = append(cand, vs...)
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
