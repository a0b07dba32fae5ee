package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minSecretLen is the length below which a value is not recorded as a
// secret: scrubbing "on" or "abc" out of every message would do more harm
// than good.
const minSecretLen = 4

// secretList holds the secret values of a Config. It sits behind a pointer
// so that printing a Config (%v, %+v, %#v) shows an address, not the values.
type secretList struct {
	values []string
}

// expand replaces every ${VAR} in s with the value of VAR from the load's
// environment and records that value as a secret; "$${" stands for a
// literal "${". A problem is recorded at where, and false returned, if a
// variable is not set or a reference is malformed.
func (l *loader) expand(where, s string) (string, bool) {
	out, vals, err := expandVars(s, func(name string) (string, bool) {
		v, ok := l.env[name]
		return v, ok
	})
	l.secrets = append(l.secrets, vals...)
	if err != nil {
		l.probs.add(where, err.Error())
		return "", false
	}
	return out, true
}

func expandVars(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var (
		b    strings.Builder
		vals []string
	)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), vals, nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", vals, errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		name := s[i+2 : i+2+end]
		if !isVarName(name) {
			return "", vals, errors.New(`invalid variable name in "${...}" (write "$${" for a literal "${")`)
		}
		v, ok := lookup(name)
		if !ok {
			return "", vals, fmt.Errorf("environment variable %q is not set", name)
		}
		b.WriteString(v)
		vals = append(vals, v)
		s = s[i+3+end:]
	}
}

func isVarName(s string) bool {
	for i, r := range s {
		letter := r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z'
		digit := '0' <= r && r <= '9'
		if !letter && (!digit || i == 0) {
			return false
		}
	}
	return s != ""
}

// expandTree expands ${VAR} in every string of a parsed file, in place. A
// value that cannot be expanded is dropped (in a list: emptied) after its
// problem is recorded, so it is not reported twice.
func (l *loader) expandTree(path string, v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return l.expand(path, x)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if e, ok := l.expandTree(joinPath(path, k), x[k]); ok {
				x[k] = e
			} else {
				delete(x, k)
			}
		}
	case []any:
		for i, e := range x {
			if e, ok := l.expandTree(fmt.Sprintf("%s[%d]", path, i), e); ok {
				x[i] = e
			} else {
				x[i] = ""
			}
		}
	}
	return v, true
}

// resolveFiles reads every *_file key into its secret sibling.
func (l *loader) resolveFiles(c *Config) {
	l.readSecret("server.api_token", &c.Server.APITokenFile, &c.Server.APIToken)
	l.readSecret("redis.url", &c.Redis.URLFile, &c.Redis.URL)
	l.readSecret("redis.sentinel.password", &c.Redis.Sentinel.PasswordFile, &c.Redis.Sentinel.Password)
	l.readSecret("redis.sentinel.sentinel_password", &c.Redis.Sentinel.SentinelPasswordFile, &c.Redis.Sentinel.SentinelPassword)
	l.readSecret("redis.cluster.password", &c.Redis.Cluster.PasswordFile, &c.Redis.Cluster.Password)
	for i := range c.Checks {
		ch := &c.Checks[i]
		if h := ch.HTTP; h != nil {
			p := fmt.Sprintf("checks[%d].http", i)
			l.readSecret(p+".bearer_token", &h.BearerTokenFile, &h.BearerToken)
			if h.BasicAuth != nil {
				l.readSecret(p+".basic_auth.password", &h.BasicAuth.PasswordFile, &h.BasicAuth.Password)
			}
			l.resolveCAFile(p+".tls", &h.TLS)
		}
		if s := ch.SMTP; s != nil {
			if s.Auth != nil {
				l.readSecret(fmt.Sprintf("checks[%d].smtp.auth.password", i), &s.Auth.PasswordFile, &s.Auth.Password)
			}
			l.resolveCAFile(fmt.Sprintf("checks[%d].smtp.tls_config", i), &s.TLSConfig)
		}
		if t := ch.TCP; t != nil {
			l.resolveCAFile(fmt.Sprintf("checks[%d].tcp.tls_config", i), &t.TLSConfig)
		}
		if q := ch.Queue; q != nil {
			p := fmt.Sprintf("checks[%d].queue", i)
			l.readSecret(p+".redis_url", &q.RedisURLFile, &q.RedisURL)
			l.readSecret(p+".password", &q.PasswordFile, &q.Password)
			l.resolveCAFile(p+".tls_config", &q.TLSConfig)
		}
		if h := ch.Heartbeat; h != nil {
			l.readSecret(fmt.Sprintf("checks[%d].heartbeat.token", i), &h.TokenFile, &h.Token)
		}
	}
	for i := range c.Notify {
		r := &c.Notify[i]
		p := fmt.Sprintf("notify[%d]", i)
		l.readSecret(p+".url", &r.URLFile, &r.URL)
		l.readSecret(p+".routing_key", &r.RoutingKeyFile, &r.RoutingKey)
		l.readSecret(p+".secret", &r.SecretFile, &r.Secret)
	}
	l.readSecret("watchdog.url", &c.Watchdog.URLFile, &c.Watchdog.URL)
}

// resolveCAFile makes a relative ca_file, cert_file and key_file relative
// to the config file. With SyntaxOnly they are not read, here or by the
// rules, and Validate's problems at their keys are dropped.
func (l *loader) resolveCAFile(path string, t *TLS) {
	for _, f := range []struct {
		key  string
		file *string
	}{{".ca_file", &t.CAFile}, {".cert_file", &t.CertFile}, {".key_file", &t.KeyFile}} {
		if *f.file == "" {
			continue
		}
		*f.file = l.resolvePath(*f.file)
		if l.opts.SyntaxOnly {
			l.unread = append(l.unread, path+f.key)
		}
	}
}

// readSecret reads the file named at key+"_file" into dst. Problems name the
// key and the path, never the content.
func (l *loader) readSecret(key string, path *string, dst *Secret) {
	if *path == "" {
		return
	}
	fileKey := key + "_file"
	if *dst != "" {
		l.probs.addf(fileKey, "cannot be combined with %s", key)
		return
	}
	*path = l.resolvePath(*path)
	if l.opts.SyntaxOnly {
		l.unread = append(l.unread, fileKey, key)
		return
	}
	b, err := readFile(*path)
	if err != nil {
		l.probs.wrap(fileKey, "", err)
		return
	}
	s := strings.TrimRightFunc(string(b), unicode.IsSpace)
	if s == "" {
		l.probs.addf(fileKey, "file %q is empty", *path)
		return
	}
	*dst = Secret(s)
	l.secrets = append(l.secrets, s)
}

// maxFileSize bounds the files config reads: secrets and CA bundles.
const maxFileSize = 1 << 20

// readFile reads a regular file of at most maxFileSize bytes. A mistaken
// path such as /dev/zero or a FIFO fails instead of hanging Load.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return b, nil
}

// resolvePath makes a relative path relative to the config file's directory.
func (l *loader) resolvePath(p string) string {
	if l.base == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.base, p)
}

// collectSecrets returns extra and every secret value in c, cleaned.
func (c *Config) collectSecrets(extra []string) []string {
	s := slices.Clone(extra)
	s = append(s, c.Server.APIToken.Reveal())
	s = append(s, urlSecrets(c.Redis.URL.Reveal())...)
	s = append(s, c.Redis.Sentinel.Password.Reveal(), c.Redis.Sentinel.SentinelPassword.Reveal(), c.Redis.Cluster.Password.Reveal())
	for _, ch := range c.Checks {
		if ch.SMTP != nil && ch.SMTP.Auth != nil {
			s = append(s, ch.SMTP.Auth.Password.Reveal())
		}
		if q := ch.Queue; q != nil {
			s = append(s, urlSecrets(q.RedisURL.Reveal())...)
			s = append(s, urlSecrets(q.URL.Reveal())...)
			s = append(s, q.Password.Reveal())
		}
		if ch.Heartbeat != nil {
			s = append(s, ch.Heartbeat.Token.Reveal())
		}
		h := ch.HTTP
		if h == nil {
			continue
		}
		s = append(s, urlSecrets(h.URL.Reveal())...)
		s = append(s, h.BearerToken.Reveal())
		if h.BasicAuth != nil {
			s = append(s, h.BasicAuth.Password.Reveal())
		}
		for name, v := range h.Headers {
			if !harmlessHeader(name) {
				s = append(s, v.Reveal())
			}
		}
	}
	// A receiver's or the watchdog's URL is a secret as a whole: Slack's
	// and most webhooks' carry their token in the path or the query.
	for _, r := range c.Notify {
		if u := r.URL.Reveal(); u != DefaultPagerDutyURL {
			s = append(s, endpointSecrets(u)...)
		}
		s = append(s, r.RoutingKey.Reveal(), r.Secret.Reveal())
	}
	s = append(s, endpointSecrets(c.Watchdog.URL.Reveal())...)
	return cleanSecrets(s)
}

// minTokenSegment is the length from which a path segment of a receiver's
// URL counts as a token.
const minTokenSegment = 16

// endpointSecrets are the secrets of a receiver's or the watchdog's URL:
// the whole URL, its userinfo, its query values and its long path
// segments, where Slack, Healthchecks.io and most webhooks carry their
// tokens: a receiver that echoes the path it was asked for must not put
// the token into a log.
func endpointSecrets(raw string) []string {
	if raw == "" {
		return nil
	}
	s := append([]string{raw}, urlSecrets(raw)...)
	u, err := url.Parse(raw)
	if err != nil {
		return s
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= minTokenSegment {
			s = append(s, seg)
		}
	}
	for _, vs := range u.Query() {
		s = append(s, vs...)
	}
	return s
}

// urlSecrets returns the password in a URL's userinfo, or the user name if
// there is no password: "https://TOKEN@host" is how some APIs take a token.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return rawURLSecrets(raw)
	}
	if u.User == nil {
		return nil
	}
	if p, ok := u.User.Password(); ok {
		return []string{p}
	}
	return []string{u.User.Username()}
}

// rawURLSecrets guesses the userinfo of a URL that does not parse (Validate
// rejects it without echoing it, but other output might). It may take too
// much, since a password may hold "/" or "@": scrubbing too much is harmless.
func rawURLSecrets(raw string) []string {
	_, rest, ok := strings.Cut(raw, "://")
	i := strings.LastIndex(rest, "@")
	if !ok || i < 0 {
		return nil
	}
	if user, pass, ok := strings.Cut(rest[:i], ":"); ok {
		return []string{pass, user + ":" + pass}
	}
	return []string{rest[:i]}
}

// harmlessHeader reports whether a header's value is not worth scrubbing.
func harmlessHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Accept", "Accept-Language", "Content-Type", "User-Agent", "Cache-Control":
		return true
	}
	return false
}

// cleanSecrets drops short values and duplicates, and sorts longest first.
func cleanSecrets(s []string) []string {
	s = slices.DeleteFunc(slices.Clone(s), func(v string) bool {
		return utf8.RuneCountInString(v) < minSecretLen
	})
	slices.SortFunc(s, func(a, b string) int {
		return cmp.Or(len(b)-len(a), strings.Compare(a, b))
	})
	return slices.Compact(s)
}
