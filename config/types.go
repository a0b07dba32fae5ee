// Package config loads, checks and watches tocsin's configuration: a YAML file,
// then TOCSIN_ environment variables, then command-line flags.
package config

import (
	"slices"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is one complete, validated configuration. It is never mutated after
// Load returns; a reload builds a new one.
type Config struct {
	Server      Server        `koanf:"server"`
	Redis       Redis         `koanf:"redis"`
	Ownership   Ownership     `koanf:"ownership"`
	Scheduler   Scheduler     `koanf:"scheduler"`
	Vantages    []string      `koanf:"vantages"` // the fleet's vantages; empty: one unnamed (vantages.go)
	Page        Page          `koanf:"page"`
	Log         Log           `koanf:"log"`
	Metrics     Metrics       `koanf:"metrics"`
	Defaults    Defaults      `koanf:"defaults"`
	Incidents   Incidents     `koanf:"incidents"`
	Components  []Component   `koanf:"components"`
	Checks      []Check       `koanf:"checks"`
	Maintenance []Maintenance `koanf:"maintenance"`
	Notify      []Receiver    `koanf:"notify"`
	Watchdog    Watchdog      `koanf:"watchdog"`
	Reload      Reload        `koanf:"reload"`

	// secrets holds every secret value the config resolved (file contents,
	// ${VAR} expansions, URL passwords, header values) so output can be
	// scrubbed. A pointer, so that fmt prints an address, not the values.
	secrets *secretList
	unread  []string // LoadOptions.SyntaxOnly's unread file keys
}

// UnreadFiles returns the key paths whose files a SyntaxOnly load did not
// read ("checks[2].http.bearer_token_file", its secret's key, and
// "checks[2].http.tls.ca_file"); nil for a config loaded in full.
func (c *Config) UnreadFiles() []string { return slices.Clone(c.unread) }

// Server configures the HTTP listener for the status API, page and metrics.
type Server struct {
	Listen       string   `koanf:"listen"`
	APIToken     Secret   `koanf:"api_token"`
	APITokenFile string   `koanf:"api_token_file"`
	CORSOrigins  []string `koanf:"cors_origins"`
	// CacheMaxAge is the Cache-Control max-age of public read endpoints.
	CacheMaxAge time.Duration `koanf:"cache_max_age"`
	// ReadHeaderTimeout bounds reading a request's line and headers: a
	// client that sends them slowly (slowloris) is cut off after it.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds writing a response, from the end of the request
	// headers.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers; a larger request
	// gets 431.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// DebugListen, when set, serves Go's profiler (/debug/pprof/) on a
	// listener of its own, on loopback only: it has no authentication.
	DebugListen string `koanf:"debug_listen"`
}

// Redis configures the shared store: one endpoint (URL), a Sentinel or a
// Cluster (config/redis.go). Nothing set selects the embedded store.
type Redis struct {
	URL         Secret        `koanf:"url"`
	URLFile     string        `koanf:"url_file"`
	Sentinel    RedisSentinel `koanf:"sentinel"`
	Cluster     RedisCluster  `koanf:"cluster"`
	KeyPrefix   string        `koanf:"key_prefix"`
	DialTimeout time.Duration `koanf:"dial_timeout"`
	// Timeout bounds every read and write to Redis.
	Timeout time.Duration `koanf:"timeout"`
}

// Ownership configures how the replicas on one Redis share the
// components: each live replica holds a membership lease, and each
// component (with its checks) has one owner among them.
type Ownership struct {
	// LeaseDuration is how long a replica that stopped renewing its lease
	// (it died, froze, or lost Redis) keeps its components: then the
	// others take them over, within one check interval more. Shorter means
	// faster takeover and more lease traffic (a round per replica at least
	// every second, a fifth of this when shorter).
	LeaseDuration time.Duration `koanf:"lease_duration"`
}

// Scheduler tunes how this replica runs its checks' probes.
type Scheduler struct {
	// MaxInFlight bounds the probes running at once, and so the sockets and
	// file descriptors they hold: a run due while this many are in flight
	// waits for a free slot (delayed, counted, never dropped). Read at
	// startup only.
	MaxInFlight int `koanf:"max_in_flight"`
	// SourceAddress binds every connection this replica's probes open to
	// one local IP address, so a replica probes from one interface (and
	// tests can tell replicas apart on 127.0.0.2, 127.0.0.3...). Empty:
	// the system chooses. Read at startup only.
	SourceAddress string `koanf:"source_address"`
	// Vantage is this replica's vantage, one of Config.Vantages, set per
	// Deployment (--vantage, TOCSIN_VANTAGE). Validate accepts it empty
	// even when vantages are declared, since tocsin validate and tocsin
	// check run without one; the daemon asks Config.VantageError. Read at
	// startup only.
	Vantage string `koanf:"vantage"`
}

// Page describes the public status page.
type Page struct {
	ID       string `koanf:"id"`
	Name     string `koanf:"name"`
	URL      string `koanf:"url"`
	TimeZone string `koanf:"time_zone"`
}

// Log selects the log level and format.
type Log struct {
	Level  string `koanf:"level"`  // debug | info | warn | error
	Format string `koanf:"format"` // json | text
}

// Defaults apply to every check that does not set its own value.
type Defaults struct {
	Interval         time.Duration `koanf:"interval"`
	Timeout          time.Duration `koanf:"timeout"`
	FailureThreshold int           `koanf:"failure_threshold"`
	SuccessThreshold int           `koanf:"success_threshold"`
	// FlapLowThreshold and FlapHighThreshold bound flap detection, in
	// percent state change over the last 21 results: a check starts
	// flapping above high and stops below low.
	FlapLowThreshold  float64 `koanf:"flap_low_threshold"`
	FlapHighThreshold float64 `koanf:"flap_high_threshold"`
	// Vantages, Quorum and Regional apply to every component that does
	// not set its own; Component says what they mean.
	Vantages []string `koanf:"vantages"`
	Quorum   int      `koanf:"quorum" zero:"majority"`
	Regional string   `koanf:"regional"`
}

// Incidents tunes the automatic incident lifecycle.
type Incidents struct {
	GroupWindow time.Duration `koanf:"group_window"`
	// GroupBy is how a failure joins an open automatic incident that began
	// within GroupWindow: "relation" (same group, or linked through
	// depends_on either way) or "window" (any).
	GroupBy      string        `koanf:"group_by"`
	ResolveAfter time.Duration `koanf:"resolve_after"`
	ReopenWindow time.Duration `koanf:"reopen_window"`
	Retention    time.Duration `koanf:"retention"`
}

// Component is a user-visible part of the service, as on a Statuspage.
type Component struct {
	ID          string `koanf:"id"`
	Name        string `koanf:"name"`
	Group       string `koanf:"group"`
	Description string `koanf:"description"`
	// DependsOn lists the ids of the components this one needs: while one of
	// them is in an incident, this component joins that incident when it fails.
	DependsOn []string `koanf:"depends_on"`
	// Vantages lists the vantages that probe this component's checks (a
	// check's own list overrides it); empty: every declared vantage.
	// After Load it holds the effective list, defaults.vantages when the
	// component sets none.
	Vantages []string `koanf:"vantages"`
	// Quorum is how many of the live vantages that probe the component
	// must see a status before the component takes it: a number, or 0 for
	// a majority of them (live/2+1), the default, which the file writes
	// "majority". QuorumOf works the number out. After Load it holds the
	// effective value, defaults.quorum when the component sets none.
	Quorum int `koanf:"quorum" zero:"majority"`
	// Regional is what a status seen by fewer than Quorum vantages does:
	// "ignore" shows it and opens no incident, "degraded" makes the
	// component degraded_performance. After Load it holds the effective
	// value, defaults.regional ("ignore" unless set) when the component
	// sets none.
	Regional string `koanf:"regional"`
}

// Check is one scheduled probe of a component. After Load, Interval, Timeout
// and the thresholds hold effective values (defaults applied), and so does
// Vantages: the check's own list, else its component's, else defaults';
// empty means every declared vantage (Config.VantagesOf), and it stays
// empty for heartbeat checks, which are pushed, not probed.
type Check struct {
	Name             string        `koanf:"name"`
	Component        string        `koanf:"component"`
	Type             string        `koanf:"type"`
	Interval         time.Duration `koanf:"interval"`
	Timeout          time.Duration `koanf:"timeout"`
	FailureThreshold int           `koanf:"failure_threshold"`
	SuccessThreshold int           `koanf:"success_threshold"`
	// FlapLowThreshold and FlapHighThreshold override the defaults.
	FlapLowThreshold  float64         `koanf:"flap_low_threshold"`
	FlapHighThreshold float64         `koanf:"flap_high_threshold"`
	Impact            string          `koanf:"impact"` // partial_outage | major_outage
	Vantages          []string        `koanf:"vantages"`
	HTTP              *HTTPCheck      `koanf:"http"`
	SMTP              *SMTPCheck      `koanf:"smtp"`
	TCP               *TCPCheck       `koanf:"tcp"`
	Queue             *QueueCheck     `koanf:"queue"`
	Heartbeat         *HeartbeatCheck `koanf:"heartbeat"`
}

// QueueCheck configures a queue-depth probe with trend detection.
type QueueCheck struct {
	// Source is redis_list | redis_stream | sidekiq | rabbitmq | http_json | prometheus.
	Source       string `koanf:"source"`
	RedisURL     Secret `koanf:"redis_url"` // redis_list, redis_stream, sidekiq
	RedisURLFile string `koanf:"redis_url_file"`
	Key          string `koanf:"key"`   // list key, stream key, sidekiq queue name, rabbitmq queue
	Group        string `koanf:"group"` // redis_stream consumer group
	URL          Secret `koanf:"url"`   // rabbitmq management API base, http_json URL, prometheus base URL
	Vhost        string `koanf:"vhost"` // rabbitmq
	JSONPath     string `koanf:"json_path"`
	Query        string `koanf:"query"`
	// Username and Password authenticate to rabbitmq, http_json and
	// prometheus (HTTP basic); the password may come from a file.
	Username      string        `koanf:"username"`
	Password      Secret        `koanf:"password"`
	PasswordFile  string        `koanf:"password_file"`
	TLSConfig     TLS           `koanf:"tls_config"`
	DegradedDepth float64       `koanf:"degraded_depth"`
	DownDepth     float64       `koanf:"down_depth"`
	MaxAge        time.Duration `koanf:"max_age"`
	StallAfter    time.Duration `koanf:"stall_after"`
	MinConsumers  int           `koanf:"min_consumers"`
	// Window is how far back the rate and trend rules look.
	Window time.Duration `koanf:"window"`
}

// HeartbeatCheck is a pushed check: workers POST to
// /api/v1/heartbeats/{check}; no success within period + grace is down.
type HeartbeatCheck struct {
	Period    time.Duration `koanf:"period"`
	Grace     time.Duration `koanf:"grace"`
	Token     Secret        `koanf:"token"` // optional; required on every beat when set
	TokenFile string        `koanf:"token_file"`
}

// SMTPCheck configures an SMTP probe: banner, EHLO, optional TLS and AUTH,
// and optionally a full transaction that must be accepted with 250.
type SMTPCheck struct {
	Address string `koanf:"address"` // host:port
	// TLS is the mode: none | starttls | implicit.
	TLS string `koanf:"tls"`
	// TLSConfig holds verification options for starttls and implicit.
	TLSConfig       TLS           `koanf:"tls_config"`
	Helo            string        `koanf:"helo"`
	ExpectBanner    string        `koanf:"expect_banner"` // regex over the greeting text
	Auth            *SMTPAuth     `koanf:"auth"`
	Send            *SMTPSend     `koanf:"send"`
	DegradedLatency time.Duration `koanf:"degraded_latency"`
}

// SMTPAuth holds SMTP AUTH credentials; the password may come from a file.
type SMTPAuth struct {
	Username     string `koanf:"username"`
	Password     Secret `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
	// Mechanism is plain | login; empty picks PLAIN if offered, else LOGIN.
	Mechanism string `koanf:"mechanism"`
}

// SMTPSend makes the probe run a full transaction: MAIL FROM, RCPT TO, DATA.
type SMTPSend struct {
	From string `koanf:"from"`
	To   string `koanf:"to"`
}

// TCPCheck configures a TCP probe: connect, optional TLS, optional
// send/expect exchange (like blackbox_exporter's query_response).
type TCPCheck struct {
	Address         string        `koanf:"address"` // host:port
	TLS             bool          `koanf:"tls"`
	TLSConfig       TLS           `koanf:"tls_config"`
	Send            string        `koanf:"send"`   // written after connecting (and TLS)
	Expect          string        `koanf:"expect"` // regex the reply must match
	DegradedLatency time.Duration `koanf:"degraded_latency"`
}

// HTTPCheck configures an HTTP(S) probe.
type HTTPCheck struct {
	URL             Secret            `koanf:"url"`
	Method          string            `koanf:"method"`
	Headers         map[string]Secret `koanf:"headers"`
	Body            string            `koanf:"body"`
	BasicAuth       *BasicAuth        `koanf:"basic_auth"`
	BearerTokenFile string            `koanf:"bearer_token_file"`
	BearerToken     Secret            `koanf:"bearer_token"`
	ExpectStatus    []string          `koanf:"expect_status"`
	BodyContains    string            `koanf:"body_contains"`
	BodyRegex       string            `koanf:"body_regex"`
	BodyJSON        []JSONAssertion   `koanf:"body_json"`
	FollowRedirects *bool             `koanf:"follow_redirects"`
	MaxRedirects    int               `koanf:"max_redirects"`
	DegradedLatency time.Duration     `koanf:"degraded_latency"`
	MaxBodyBytes    int64             `koanf:"max_body_bytes"`
	TLS             TLS               `koanf:"tls"`
}

// JSONAssertion tests one value of a JSON answer (http.body_json): at
// Path, in the json_path syntax of a queue's http_json source, the value
// Equals a text ("UP", "3", "true", "null"; numbers compare as numbers),
// or is a number from Min to Max.
type JSONAssertion struct {
	Path   string   `koanf:"path"`
	Equals *string  `koanf:"equals"`
	Min    *float64 `koanf:"min"`
	Max    *float64 `koanf:"max"`
}

// BasicAuth holds HTTP basic credentials; the password may come from a file.
type BasicAuth struct {
	Username     string `koanf:"username"`
	Password     Secret `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// TLS configures certificate verification for a probe.
type TLS struct {
	InsecureSkipVerify bool          `koanf:"insecure_skip_verify"`
	CAFile             string        `koanf:"ca_file"`
	CertFile           string        `koanf:"cert_file"` // client certificate (PEM), with KeyFile
	KeyFile            string        `koanf:"key_file"`
	ServerName         string        `koanf:"server_name"`
	CertExpiryWarning  time.Duration `koanf:"cert_expiry_warning"`
}

// Maintenance is a planned window during which components are under
// maintenance and no incident opens for them. A window is either fixed
// (Start and End) or recurring (Cron and Duration), never both.
type Maintenance struct {
	Name       string    `koanf:"name"`
	Components []string  `koanf:"components"`
	Start      time.Time `koanf:"start"`
	End        time.Time `koanf:"end"`
	Message    string    `koanf:"message"`
	// Cron is a five-field cron expression (minute hour day-of-month month
	// day-of-week) for the start of each occurrence of a recurring window,
	// read on the wall clock of TimeZone.
	Cron string `koanf:"cron"`
	// Duration is how long each occurrence lasts, in elapsed time.
	Duration time.Duration `koanf:"duration"`
	// TimeZone is an IANA zone name; Load sets it to page.time_zone when a
	// recurring window leaves it empty. Empty means UTC.
	TimeZone string `koanf:"time_zone"`

	// schedule is Cron parsed in TimeZone by Load, once: the engine asks
	// for every component on every flush.
	schedule *cron.SpecSchedule
}

// Secret is a string that never prints: fmt, slog and JSON all see a
// placeholder. Use Reveal to get the value for the one place that needs it.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer with a placeholder.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Secrets returns every secret value the configuration resolved, for scrubbing
// output. The slice must not be modified.
func (c *Config) Secrets() []string {
	if c.secrets == nil {
		return nil
	}
	return c.secrets.values
}
