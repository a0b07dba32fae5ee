package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks c as it is (Load has applied the defaults) and returns
// every problem, each "key.path: reason", joined with errors.Join in config
// order; nil if there is none.
func (c *Config) Validate() error {
	return c.validate().join(c.Secrets())
}

func (c *Config) validate() problems {
	var p problems
	c.Server.validate(&p)
	c.Redis.validate(&p)
	c.Ownership.validate(&p)
	c.Scheduler.validate(&p)
	c.Page.validate(&p)
	c.Log.validate(&p)
	c.Defaults.validate(&p)
	c.Incidents.validate(&p)
	ids := validateComponents(&p, c.Components)
	names := map[string]bool{}
	for i := range c.Checks {
		c.Checks[i].validate(&p, fmt.Sprintf("checks[%d]", i), c.Defaults, ids, names)
	}
	for i, m := range c.Maintenance {
		m.validate(&p, fmt.Sprintf("maintenance[%d]", i), ids)
	}
	c.validateNotify(&p, ids)
	c.validateVantages(&p)
	return p
}

// Lease bounds: a lease shorter than a few Redis round trips expires while
// it is renewed; one longer than ten minutes leaves a dead replica's checks
// unprobed for that long.
const (
	minLease = 100 * time.Millisecond
	maxLease = 10 * time.Minute
)

func (o Ownership) validate(p *problems) {
	if o.LeaseDuration < minLease || o.LeaseDuration > maxLease {
		p.addf("ownership.lease_duration", "must be between %s and %s", minLease, maxLease)
	}
}

func (s Scheduler) validate(p *problems) {
	atLeastOne(p, "scheduler.max_in_flight", s.MaxInFlight)
	if s.SourceAddress != "" && net.ParseIP(s.SourceAddress) == nil {
		p.addf("scheduler.source_address", "%q is not an IP address (want one of this host's, e.g. 10.0.0.5 or fd00::5)", s.SourceAddress)
	}
}

func (pg Page) validate(p *problems) {
	checkID(p, "page.id", pg.ID)
	if pg.Name == "" {
		p.add("page.name", "required")
	}
	if pg.URL != "" {
		if msg := httpURLProblem(pg.URL); msg != "" {
			p.add("page.url", msg)
		}
	}
	if _, err := time.LoadLocation(pg.TimeZone); err != nil {
		p.addf("page.time_zone", "unknown time zone %q", pg.TimeZone)
	}
}

func (l Log) validate(p *problems) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p.addf("log.level", "unknown level %q (want debug, info, warn or error)", l.Level)
	}
	switch l.Format {
	case "json", "text":
	default:
		p.addf("log.format", "unknown format %q (want json or text)", l.Format)
	}
}

func (d Defaults) validate(p *problems) {
	if d.Interval < minInterval {
		p.addf("defaults.interval", "must be at least %s", minInterval)
	}
	if d.Timeout <= 0 {
		p.add("defaults.timeout", "must be positive")
	} else if d.Interval >= minInterval && d.Timeout >= d.Interval {
		p.addf("defaults.timeout", "must be less than interval (%s)", d.Interval)
	}
	atLeastOne(p, "defaults.failure_threshold", d.FailureThreshold)
	atLeastOne(p, "defaults.success_threshold", d.SuccessThreshold)
	d.validateFlap(p)
}

// validate checks the incident timings. A zero group_window never joins an
// open incident and a zero reopen_window never reopens one.
func (in Incidents) validate(p *problems) {
	nonNegative(p, "incidents.group_window", in.GroupWindow)
	if in.GroupBy != "relation" && in.GroupBy != "window" {
		p.addf("incidents.group_by", "unknown grouping %q (want relation or window)", in.GroupBy)
	}
	positive(p, "incidents.resolve_after", in.ResolveAfter)
	nonNegative(p, "incidents.reopen_window", in.ReopenWindow)
	positive(p, "incidents.retention", in.Retention)
}

// validateComponents checks the components and returns their ids.
func validateComponents(p *problems, cs []Component) map[string]bool {
	ids := map[string]bool{}
	for i, c := range cs {
		path := fmt.Sprintf("components[%d]", i)
		if checkID(p, path+".id", c.ID) && ids[c.ID] {
			p.addf(path+".id", "duplicate component id %q", c.ID)
		}
		ids[c.ID] = true
		if c.Name == "" {
			p.add(path+".name", "required")
		}
	}
	validateDependencies(p, cs, ids)
	return ids
}

func (ch *Check) validate(p *problems, path string, d Defaults, ids, names map[string]bool) {
	if checkName(p, path+".name", ch.Name) && names[ch.Name] {
		p.addf(path+".name", "duplicate check name %q", ch.Name)
	}
	names[ch.Name] = true
	switch {
	case ch.Component == "":
		p.add(path+".component", "required")
	case !ids[ch.Component]:
		p.addf(path+".component", "unknown component %q", ch.Component)
	}
	knownType := true
	switch ch.Type {
	case typeHTTP, typeSMTP, typeTCP, typeQueue, typeHeartbeat:
	case "":
		p.add(path+".type", "required")
		knownType = false
	default:
		p.addf(path+".type", "unknown type %q (want http, smtp, tcp, queue or heartbeat)", ch.Type)
		knownType = false
	}
	ch.validateTiming(p, path, d)
	if ch.Impact != impactPartialOutage && ch.Impact != impactMajorOutage {
		p.addf(path+".impact", "unknown impact %q (want partial_outage or major_outage)", ch.Impact)
	}
	if knownType {
		// Without a type there is no telling which block is the wrong one.
		ch.validateBlocks(p, path)
	}
}

// validateTiming checks interval, timeout and thresholds. A bad value equal
// to the one in defaults was most likely inherited and is reported there,
// once, instead of once per check.
func (ch *Check) validateTiming(p *problems, path string, d Defaults) {
	intervalOK := ch.Interval >= minInterval
	if !intervalOK && ch.Interval != d.Interval {
		p.addf(path+".interval", "must be at least %s", minInterval)
	}
	timeoutOK := ch.Timeout > 0
	if !timeoutOK && ch.Timeout != d.Timeout {
		p.add(path+".timeout", "must be positive")
	}
	inherited := ch.Interval == d.Interval && ch.Timeout == d.Timeout
	if intervalOK && timeoutOK && ch.Timeout >= ch.Interval && !inherited {
		p.addf(path+".timeout", "must be less than interval (%s)", ch.Interval)
	}
	if ch.FailureThreshold != d.FailureThreshold {
		atLeastOne(p, path+".failure_threshold", ch.FailureThreshold)
	}
	if ch.SuccessThreshold != d.SuccessThreshold {
		atLeastOne(p, path+".success_threshold", ch.SuccessThreshold)
	}
	ch.validateFlap(p, path, d)
}

func (h *HTTPCheck) validate(p *problems, path string, timeout time.Duration) {
	if msg := httpURLProblem(h.URL.Reveal()); msg != "" {
		p.add(path+".url", msg)
	}
	if !isToken(h.Method) {
		p.addf(path+".method", "invalid method %q", h.Method)
	}
	for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
		if !isToken(name) {
			p.add(path+".headers."+name, "invalid header name")
		} else if strings.ContainsAny(h.Headers[name].Reveal(), "\r\n\x00") {
			p.add(path+".headers."+name, "invalid header value")
		}
	}
	if h.BasicAuth != nil && h.BasicAuth.Username == "" {
		p.add(path+".basic_auth.username", "required")
	}
	if h.BasicAuth != nil && h.BearerToken != "" {
		p.add(path+".bearer_token", "cannot be combined with basic_auth")
	}
	for i, s := range h.ExpectStatus {
		if !validStatus(s) {
			p.addf(fmt.Sprintf("%s.expect_status[%d]", path, i), "invalid status %q (want 100-599 or 1xx-5xx)", s)
		}
	}
	for i, a := range h.BodyJSON {
		a.validate(p, fmt.Sprintf("%s.body_json[%d]", path, i))
	}
	if h.BodyRegex != "" {
		if _, err := regexp.Compile(h.BodyRegex); err != nil {
			p.wrap(path+".body_regex", "invalid regex", err)
		}
	}
	if h.MaxRedirects < 0 {
		p.add(path+".max_redirects", "must not be negative")
	}
	if nonNegative(p, path+".degraded_latency", h.DegradedLatency) && timeout > 0 && h.DegradedLatency >= timeout {
		p.addf(path+".degraded_latency", "must be less than timeout (%s)", timeout)
	}
	if h.MaxBodyBytes <= 0 {
		p.add(path+".max_body_bytes", "must be positive")
	}
	h.TLS.validate(p, path+".tls")
}

// validate checks that an assertion asserts one thing. Its path's syntax
// is the prober's to check, as a queue's json_path is.
func (a JSONAssertion) validate(p *problems, path string) {
	switch {
	case a.Equals == nil && a.Min == nil && a.Max == nil:
		p.add(path, "needs equals, min or max")
	case a.Equals != nil && (a.Min != nil || a.Max != nil):
		p.add(path+".equals", "cannot be combined with min or max")
	case a.Min != nil && a.Max != nil && *a.Min > *a.Max:
		p.addf(path+".min", "must not be more than max (%g)", *a.Max)
	}
}

func (t TLS) validate(p *problems, path string) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		p.add(path+".key_file", "required with cert_file: a client certificate needs its key")
	case t.CertFile == "" && t.KeyFile != "":
		p.add(path+".cert_file", "required with key_file")
	case t.CertFile != "":
		// readFile's bounds first (a FIFO or /dev/zero must not hang a
		// load); the errors name the files, never what is in the key.
		certPEM, err := readFile(t.CertFile)
		if err != nil {
			p.wrap(path+".cert_file", "", err)
			break
		}
		keyPEM, err := readFile(t.KeyFile)
		if err != nil {
			p.wrap(path+".key_file", "", err)
			break
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			p.wrap(path+".cert_file", "", err)
		}
	}
	if t.CAFile != "" {
		b, err := readFile(t.CAFile)
		switch {
		case err != nil:
			p.wrap(path+".ca_file", "", err)
		case !x509.NewCertPool().AppendCertsFromPEM(b):
			p.addf(path+".ca_file", "no PEM certificate in %q", t.CAFile)
		}
	}
	nonNegative(p, path+".cert_expiry_warning", t.CertExpiryWarning)
}

// checkID checks a component or page id, which appears in URLs and metric
// labels, and reports whether it is valid.
func checkID(p *problems, path, id string) bool {
	return checkSlug(p, path, "id", id)
}

// checkName checks a check name and reports whether it is valid.
func checkName(p *problems, path, name string) bool {
	return checkSlug(p, path, "name", name)
}

func checkSlug(p *problems, path, what, s string) bool {
	if s == "" {
		p.add(path, "required")
		return false
	}
	for _, r := range s {
		if r != '-' && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			p.addf(path, "invalid %s %q (want [a-z0-9-]+)", what, s)
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (RFC 9110), as methods and
// header names must be.
func isToken(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') &&
			!strings.ContainsRune("!#$%&'*+-.^_`|~", r) {
			return false
		}
	}
	return s != ""
}

// validStatus accepts a status code 100-599 or a class 1xx-5xx.
func validStatus(s string) bool {
	if len(s) == 3 && s[1:] == "xx" {
		return '1' <= s[0] && s[0] <= '5'
	}
	n, err := strconv.Atoi(s)
	return err == nil && 100 <= n && n <= 599
}

// httpURLProblem checks an absolute http(s) URL without quoting it: it may
// hold a password.
func httpURLProblem(raw string) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return urlParseProblem(err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "must be an absolute http or https URL"
	}
	return ""
}

// redisURLProblem checks a URL the way go-redis reads it, without quoting it.
func redisURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return urlParseProblem(err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if _, err := strconv.Atoi(db); err != nil {
				return "invalid database number (want redis://host:port/N)"
			}
		}
	case "unix":
		if u.Path == "" {
			return "missing socket path (want unix:///path/to/socket)"
		}
	default:
		return "scheme must be redis, rediss or unix"
	}
	return ""
}

// urlParseProblem describes a url.Parse error without the URL in it. Escape
// errors are not described: they quote part of the URL, maybe the password.
func urlParseProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "invalid URL: bad percent-encoding"
	}
	return "invalid URL: " + strings.TrimPrefix(err.Error(), "net/url: ")
}

func positive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be positive")
	}
}

func nonNegative(p *problems, path string, d time.Duration) bool {
	if d < 0 {
		p.add(path, "must not be negative")
		return false
	}
	return true
}

func atLeastOne(p *problems, path string, n int) {
	if n < 1 {
		p.add(path, "must be at least 1")
	}
}
