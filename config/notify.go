package config

import (
	"cmp"
	"fmt"
	"net/url"
	"time"
)

// Receiver types (notify[].type).
const (
	ReceiverWebhook      = "webhook"
	ReceiverSlack        = "slack"
	ReceiverPagerDuty    = "pagerduty"
	ReceiverAlertmanager = "alertmanager"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Notification defaults and bounds.
const (
	defaultReceiverTimeout = 10 * time.Second
	defaultRetryMin        = time.Second
	defaultRetryMax        = 5 * time.Minute
	minRepeatEvery         = time.Second
	minWatchdogInterval    = time.Second
)

// Receiver is where incident events go (docs/notifications.md). Its URL and keys are
// secrets: they never appear in logs, metrics or errors.
type Receiver struct {
	Name string `koanf:"name"`
	Type string `koanf:"type"` // webhook | slack | pagerduty | alertmanager
	// URL is the endpoint: the webhook's, Slack's incoming webhook, the
	// Alertmanager base URL (…/api/v2/alerts is appended), or the PagerDuty
	// Events API (default DefaultPagerDutyURL).
	URL     Secret `koanf:"url"`
	URLFile string `koanf:"url_file"`
	// RoutingKey is the PagerDuty integration key.
	RoutingKey     Secret `koanf:"routing_key"`
	RoutingKeyFile string `koanf:"routing_key_file"`
	// Secret signs webhook bodies: X-Tocsin-Signature: sha256=<HMAC>.
	Secret     Secret `koanf:"secret"`
	SecretFile string `koanf:"secret_file"`
	// MinImpact is the least incident impact sent (none: all).
	MinImpact string `koanf:"min_impact"`
	// Components, if set, limits the receiver to incidents that affect one
	// of them.
	Components []string `koanf:"components"`
	// RepeatEvery, if set, sends a reminder while an incident stays open.
	RepeatEvery time.Duration `koanf:"repeat_every"`
	// Maintenance and Warnings ask for maintenance starts and ends, and
	// for private check warnings (certificate expiry).
	Maintenance bool          `koanf:"maintenance"`
	Warnings    bool          `koanf:"warnings"`
	Timeout     time.Duration `koanf:"timeout"`
	// RetryMin and RetryMax bound the backoff between attempts of an event
	// the receiver did not take: it doubles from RetryMin up to RetryMax,
	// with jitter (a Retry-After longer than RetryMax is honoured).
	RetryMin time.Duration `koanf:"retry_min"`
	RetryMax time.Duration `koanf:"retry_max"`
}

// Watchdog pings an external dead-man's switch while tocsin is healthy.
type Watchdog struct {
	URL      Secret        `koanf:"url"`
	URLFile  string        `koanf:"url_file"`
	Interval time.Duration `koanf:"interval"`
}

// applyNotifyDefaults fills what receivers leave unset.
func (c *Config) applyNotifyDefaults() {
	for i := range c.Notify {
		r := &c.Notify[i]
		r.MinImpact = cmp.Or(r.MinImpact, "none")
		r.Timeout = cmp.Or(r.Timeout, defaultReceiverTimeout)
		r.RetryMin = cmp.Or(r.RetryMin, defaultRetryMin)
		r.RetryMax = cmp.Or(r.RetryMax, defaultRetryMax)
		if r.Type == ReceiverPagerDuty && r.URL == "" {
			r.URL = DefaultPagerDutyURL
		}
	}
	if c.Watchdog.URL != "" {
		c.Watchdog.Interval = cmp.Or(c.Watchdog.Interval, time.Minute)
	}
}

// validateNotify checks the receivers and the watchdog. Problems never
// quote a URL or a key.
func (c *Config) validateNotify(p *problems, ids map[string]bool) {
	names := map[string]bool{}
	for i, r := range c.Notify {
		path := fmt.Sprintf("notify[%d]", i)
		if checkName(p, path+".name", r.Name) && names[r.Name] {
			p.addf(path+".name", "duplicate receiver name %q", r.Name)
		}
		names[r.Name] = true
		switch r.Type {
		case ReceiverWebhook, ReceiverSlack, ReceiverAlertmanager, ReceiverPagerDuty:
		default:
			p.addf(path+".type", "unknown type %q (want webhook, slack, pagerduty or alertmanager)", r.Type)
		}
		if r.URL == "" {
			p.add(path+".url", "required")
		} else if msg := receiverURLProblem(r.URL.Reveal()); msg != "" {
			p.add(path+".url", msg)
		}
		if r.Type == ReceiverPagerDuty && r.RoutingKey == "" {
			p.add(path+".routing_key", "required for pagerduty")
		}
		if r.Type != ReceiverPagerDuty && r.RoutingKey != "" {
			p.add(path+".routing_key", "only for pagerduty")
		}
		if r.Type != ReceiverWebhook && r.Secret != "" {
			p.add(path+".secret", "only for webhook")
		}
		switch r.MinImpact {
		case "none", "minor", "major", "critical":
		default:
			p.addf(path+".min_impact", "unknown impact %q (want none, minor, major or critical)", r.MinImpact)
		}
		for j, comp := range r.Components {
			if !ids[comp] {
				p.addf(fmt.Sprintf("%s.components[%d]", path, j), "unknown component %q", comp)
			}
		}
		if r.RepeatEvery != 0 && r.RepeatEvery < minRepeatEvery {
			p.addf(path+".repeat_every", "must be at least %s (or 0: no reminders)", minRepeatEvery)
		}
		positive(p, path+".timeout", r.Timeout)
		positive(p, path+".retry_min", r.RetryMin)
		if r.RetryMax < r.RetryMin {
			p.addf(path+".retry_max", "must be at least retry_min (%s)", r.RetryMin)
		}
	}
	if w := c.Watchdog; w.URL != "" {
		if msg := receiverURLProblem(w.URL.Reveal()); msg != "" {
			p.add("watchdog.url", msg)
		}
		if w.Interval < minWatchdogInterval {
			p.addf("watchdog.interval", "must be at least %s", minWatchdogInterval)
		}
	} else if w.Interval != 0 {
		p.add("watchdog.url", "required with watchdog.interval")
	}
}

// receiverURLProblem checks an http(s) URL without quoting it: it may hold
// a token.
func receiverURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "scheme must be http or https"
	}
	if u.Host == "" {
		return "no host"
	}
	return ""
}

// CertExpiryWarning is how long before its TLS certificate expires the
// check warns (0: it has no TLS, or no warning).
func (c Check) CertExpiryWarning() time.Duration {
	switch {
	case c.HTTP != nil:
		return c.HTTP.TLS.CertExpiryWarning
	case c.SMTP != nil:
		return c.SMTP.TLSConfig.CertExpiryWarning
	case c.TCP != nil:
		return c.TCP.TLSConfig.CertExpiryWarning
	}
	return 0
}
