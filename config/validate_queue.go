package config

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Queue sources (queue.source).
const (
	QueueRedisList   = "redis_list"
	QueueRedisStream = "redis_stream"
	QueueSidekiq     = "sidekiq"
	QueueRabbitMQ    = "rabbitmq"
	QueueHTTPJSON    = "http_json"
	QueuePrometheus  = "prometheus"

	defaultVhost = "/"
	// defaultQueueWindow is the trend window unless stall_after needs more:
	// the window is then twice stall_after, so that a stall is judged on a
	// window that holds it with room to spare.
	defaultQueueWindow = 5 * time.Minute
)

// queueKeys lists, for each source-specific key, the sources it applies to.
var queueKeys = []struct {
	key     string
	sources []string
	set     func(q *QueueCheck) bool
}{
	{"redis_url", redisSources, func(q *QueueCheck) bool { return q.RedisURL != "" && q.RedisURLFile == "" }},
	{"redis_url_file", redisSources, func(q *QueueCheck) bool { return q.RedisURLFile != "" }},
	{"key", []string{QueueRedisList, QueueRedisStream, QueueSidekiq, QueueRabbitMQ}, func(q *QueueCheck) bool { return q.Key != "" }},
	{"group", []string{QueueRedisStream}, func(q *QueueCheck) bool { return q.Group != "" }},
	{"url", urlSources, func(q *QueueCheck) bool { return q.URL != "" }},
	{"vhost", []string{QueueRabbitMQ}, func(q *QueueCheck) bool { return q.Vhost != "" }},
	{"json_path", []string{QueueHTTPJSON}, func(q *QueueCheck) bool { return q.JSONPath != "" }},
	{"query", []string{QueuePrometheus}, func(q *QueueCheck) bool { return q.Query != "" }},
	{"username", urlSources, func(q *QueueCheck) bool { return q.Username != "" }},
	{"password", urlSources, func(q *QueueCheck) bool { return q.Password != "" && q.PasswordFile == "" }},
	{"password_file", urlSources, func(q *QueueCheck) bool { return q.PasswordFile != "" }},
}

var (
	queueSources = []string{QueueRedisList, QueueRedisStream, QueueSidekiq, QueueRabbitMQ, QueueHTTPJSON, QueuePrometheus}
	redisSources = []string{QueueRedisList, QueueRedisStream, QueueSidekiq}
	urlSources   = []string{QueueRabbitMQ, QueueHTTPJSON, QueuePrometheus}
)

// validate checks a queue block: the source, the keys it needs and only
// those, and the verdict settings. Problems never quote a URL: it may hold
// a password.
func (q *QueueCheck) validate(p *problems, path string, _ time.Duration) {
	switch {
	case q.Source == "":
		p.add(path+".source", "required")
	case !slices.Contains(queueSources, q.Source):
		p.addf(path+".source", "unknown source %q (want %s)", q.Source, queueOrList(queueSources))
	default:
		q.validateSourceKeys(p, path)
	}
	q.validateRules(p, path)
}

// validateSourceKeys checks the keys that depend on the source.
func (q *QueueCheck) validateSourceKeys(p *problems, path string) {
	for _, k := range queueKeys {
		if k.set(q) && !slices.Contains(k.sources, q.Source) {
			p.addf(path+"."+k.key, "only valid for source %s", queueOrList(k.sources))
		}
	}
	required := func(key, value string) {
		if value == "" {
			p.add(path+"."+key, "required")
		}
	}
	switch q.Source {
	case QueueRedisList, QueueRedisStream, QueueSidekiq:
		switch u := q.RedisURL.Reveal(); {
		case u == "" && q.RedisURLFile == "":
			p.add(path+".redis_url", "required (or redis_url_file)")
		case u != "":
			key := "redis_url"
			if q.RedisURLFile != "" {
				key = "redis_url_file"
			}
			if msg := redisURLProblem(u); msg != "" {
				p.add(path+"."+key, msg)
			}
		}
		required("key", q.Key)
	case QueueRabbitMQ:
		required("key", q.Key)
	case QueueHTTPJSON:
		required("json_path", q.JSONPath)
	case QueuePrometheus:
		required("query", q.Query)
	}
	if slices.Contains(urlSources, q.Source) {
		if msg := httpURLProblem(q.URL.Reveal()); msg != "" {
			p.add(path+".url", msg)
		} else if u, _ := url.Parse(q.URL.Reveal()); u.User != nil && (q.Username != "" || q.Password != "") {
			p.add(path+".url", "credentials in the URL cannot be combined with username or password")
		}
	}
	q.validateTLS(p, path)
}

// validateTLS allows tls_config with an https url or a rediss redis_url.
func (q *QueueCheck) validateTLS(p *problems, path string) {
	if q.TLSConfig == (TLS{}) {
		return
	}
	key := path + ".tls_config"
	switch {
	case slices.Contains(redisSources, q.Source) && !hasScheme(q.RedisURL.Reveal(), "rediss"):
		p.add(key, "needs a rediss:// redis_url")
	case slices.Contains(urlSources, q.Source) && !hasScheme(q.URL.Reveal(), "https"):
		p.add(key, "needs an https url")
	default:
		q.TLSConfig.validate(p, key)
	}
}

// validateRules checks the thresholds, trend settings and whether the
// source can tell what a rule needs (the oldest item's age, consumers).
func (q *QueueCheck) validateRules(p *problems, path string) {
	depthsOK := true
	for _, d := range []struct {
		key string
		v   float64
	}{{"degraded_depth", q.DegradedDepth}, {"down_depth", q.DownDepth}} {
		if d.v < 0 {
			p.add(path+"."+d.key, "must not be negative")
			depthsOK = false
		}
	}
	if depthsOK && q.DegradedDepth > 0 && q.DownDepth > 0 && q.DegradedDepth >= q.DownDepth {
		p.addf(path+".degraded_depth", "must be less than down_depth (%s)", strconv.FormatFloat(q.DownDepth, 'f', -1, 64))
	}
	nonNegative(p, path+".max_age", q.MaxAge)
	stallOK := nonNegative(p, path+".stall_after", q.StallAfter)
	if nonNegative(p, path+".window", q.Window) && stallOK && q.Window > 0 && q.StallAfter > q.Window {
		p.addf(path+".stall_after", "must not be more than window (%s)", q.Window)
	}
	if q.MinConsumers < 0 {
		p.add(path+".min_consumers", "must not be negative")
	}
	switch q.Source {
	case QueueRedisList, QueueHTTPJSON, QueuePrometheus:
		if q.MaxAge > 0 {
			p.addf(path+".max_age", "source %s does not know the age of items", q.Source)
		}
		if q.MinConsumers > 0 {
			p.addf(path+".min_consumers", "source %s does not know consumers", q.Source)
		}
	case QueueRedisStream:
		if q.MinConsumers > 0 && q.Group == "" {
			p.add(path+".min_consumers", "needs group: a stream has consumers only in a consumer group")
		}
	}
}

// applyDefaults sets the rabbitmq vhost and the trend window: 5m, or twice
// stall_after when that is longer.
func (q *QueueCheck) applyDefaults() {
	if q == nil {
		return
	}
	if q.Source == QueueRabbitMQ && q.Vhost == "" {
		q.Vhost = defaultVhost
	}
	if q.Window == 0 && q.StallAfter >= 0 {
		q.Window = max(defaultQueueWindow, 2*q.StallAfter)
	}
}

// hasScheme reports whether raw is a URL with the scheme.
func hasScheme(raw, scheme string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.EqualFold(u.Scheme, scheme)
}

// queueOrList writes "a, b or c".
func queueOrList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
