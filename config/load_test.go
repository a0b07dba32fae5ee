package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// fullEnv is the environment valid-full.yml expands.
var fullEnv = []string{
	"REDIS_PASSWORD=redis-pass-1234",
	"API_KEY=api-key-value-1",
	"API_TOKEN_V2=token-v2-value",
}

func ptr[T any](v T) *T { return &v }

// writeConfig writes a config file in a fresh directory and returns its path.
func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tocsin.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, opts LoadOptions) *Config {
	t.Helper()
	cfg, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// httpDefaults returns an HTTP block with the defaults Load applies.
func httpDefaults(url string) *HTTPCheck {
	return &HTTPCheck{
		URL:             Secret(url),
		Method:          "GET",
		ExpectStatus:    []string{"2xx"},
		FollowRedirects: ptr(true),
		MaxRedirects:    10,
		MaxBodyBytes:    1 << 20,
		TLS:             TLS{CertExpiryWarning: 336 * time.Hour},
	}
}

func TestLoadValidFull(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: "testdata/valid-full.yml", Env: fullEnv})

	wantStart := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	wantEnd := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	if len(cfg.Maintenance) >= 1 {
		m := &cfg.Maintenance[0]
		if !m.Start.Equal(wantStart) || !m.End.Equal(wantEnd) {
			t.Errorf("maintenance window = %v .. %v, want %v .. %v", m.Start, m.End, wantStart, wantEnd)
		}
		m.Start, m.End = time.Time{}, time.Time{} // compared above; locations differ
	}

	home := &HTTPCheck{
		URL:    "https://app.acme.example/health",
		Method: "POST",
		Headers: map[string]Secret{
			"Accept":    "application/json",
			"X-Api-Key": "api-key-value-1",
		},
		Body: `{"ping": true}`,
		BasicAuth: &BasicAuth{
			Username:     "probe",
			Password:     "basic-file-pass-xyz",
			PasswordFile: "testdata/secrets/basic-password",
		},
		ExpectStatus:    []string{"2xx", "301"},
		BodyContains:    "ok",
		BodyRegex:       `^\{"status":"(ok|degraded)"\}$`,
		FollowRedirects: ptr(false),
		MaxRedirects:    3,
		DegradedLatency: 2 * time.Second,
		MaxBodyBytes:    65536,
		TLS: TLS{
			InsecureSkipVerify: true,
			CAFile:             "testdata/ca.pem",
			ServerName:         "app.internal",
			CertExpiryWarning:  168 * time.Hour,
		},
	}
	status := httpDefaults("https://probe:hunter2-url-pass@api.acme.example/status")
	status.BearerTokenFile = "testdata/secrets/bearer-token"
	status.BearerToken = "bearer-file-abcdef"
	v2 := httpDefaults("https://api.acme.example/v2/status")
	v2.BearerToken = "token-v2-value"
	admin := httpDefaults("https://api.acme.example/admin")
	admin.BasicAuth = &BasicAuth{Username: "admin", Password: "inline-pass-${NOT_EXPANDED}"}
	inherited := func(name string, h *HTTPCheck) Check {
		return Check{
			Name: name, Component: "api", Type: "http",
			Interval: time.Minute, Timeout: 20 * time.Second,
			FailureThreshold: 2, SuccessThreshold: 1,
			FlapLowThreshold: 25, FlapHighThreshold: 40.5,
			Impact: "major_outage", HTTP: h,
		}
	}

	inheritedBy := func(name, component, typ string, set func(*Check)) Check {
		c := inherited(name, nil)
		c.Component, c.Type, c.HTTP = component, typ, nil
		set(&c)
		return c
	}
	inbound := &SMTPCheck{
		Address: "mx.acme.example:25",
		TLS:     "starttls",
		TLSConfig: TLS{
			CAFile:            "testdata/ca.pem",
			ServerName:        "mx.internal",
			CertExpiryWarning: 336 * time.Hour,
		},
		Helo:         "tocsin.acme.example",
		ExpectBanner: "^220",
		Auth: &SMTPAuth{
			Username:     "probe",
			Password:     "smtp-file-pass-4242",
			PasswordFile: "testdata/secrets/smtp-password",
			Mechanism:    "login",
		},
		Send:            &SMTPSend{From: "probe@acme.example", To: "probe-sink@acme.example"},
		DegradedLatency: 3 * time.Second,
	}
	dbPort := &TCPCheck{
		Address:         "db:5432",
		TLS:             true,
		TLSConfig:       TLS{CAFile: "testdata/ca.pem", CertExpiryWarning: 72 * time.Hour},
		Send:            "PING\r\n",
		Expect:          `^\+PONG`,
		DegradedLatency: time.Second,
	}

	emailQueue := &QueueCheck{
		Source:        "redis_stream",
		RedisURL:      "rediss://:queue-redis-pass-9@jobs:6380/2",
		Key:           "mail-events",
		Group:         "mailers",
		TLSConfig:     TLS{CAFile: "testdata/ca.pem", ServerName: "jobs.internal"},
		DegradedDepth: 1000,
		DownDepth:     50000.5,
		MaxAge:        5 * time.Minute,
		StallAfter:    3 * time.Minute,
		MinConsumers:  2,
		Window:        10 * time.Minute,
	}

	want := &Config{
		Server: Server{
			Listen:       "127.0.0.1:9090",
			APIToken:     "tok-file-api-0123456789",
			APITokenFile: "testdata/secrets/api-token",
			CORSOrigins:  []string{"https://acme.example", "https://www.acme.example"},
			CacheMaxAge:  5 * time.Second,
			// Not in the file: the defaults.
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10,
		},
		Redis: Redis{
			URL:         "redis://tocsin:redis-pass-1234@redis:6379/0",
			KeyPrefix:   "acme:",
			DialTimeout: time.Second,
			Timeout:     500 * time.Millisecond,
		},
		Ownership: Ownership{LeaseDuration: 20 * time.Second},
		Scheduler: Scheduler{MaxInFlight: 2000},
		Page:      Page{ID: "acme", Name: "Acme Status", URL: "https://status.acme.example", TimeZone: "Europe/Berlin"},
		Log:       Log{Level: "debug", Format: "text"},
		Defaults: Defaults{
			Interval: time.Minute, Timeout: 20 * time.Second,
			FailureThreshold: 2, SuccessThreshold: 1,
			FlapLowThreshold: 25, FlapHighThreshold: 40.5,
			Regional: "ignore",
		},
		Incidents: Incidents{
			GroupWindow: 10 * time.Minute, GroupBy: "relation", ResolveAfter: 3 * time.Minute,
			ReopenWindow: 0, Retention: 720 * time.Hour,
		},
		Components: []Component{
			{ID: "web-app", Name: "Web App", Group: "Help Desk", Description: "The customer-facing web application", Regional: "ignore"},
			{ID: "api", Name: "Public API", Regional: "ignore"},
			{ID: "email", Name: "Email Processing", DependsOn: []string{"api"}, Regional: "ignore"},
		},
		Checks: []Check{
			{
				Name: "web-app-home", Component: "web-app", Type: "http",
				Interval: 15 * time.Second, Timeout: 5 * time.Second,
				FailureThreshold: 4, SuccessThreshold: 3,
				FlapLowThreshold: 25, FlapHighThreshold: 60,
				Impact: "partial_outage", HTTP: home,
			},
			inherited("api-status", status),
			inherited("api-v2", v2),
			inherited("api-admin", admin),
			inheritedBy("smtp-inbound", "email", "smtp", func(c *Check) { c.SMTP = inbound }),
			inheritedBy("smtp-plain", "email", "smtp", func(c *Check) {
				c.SMTP = &SMTPCheck{Address: "[2001:db8::25]:25", TLS: "none", Helo: "tocsin.localhost"}
			}),
			inheritedBy("db-port", "web-app", "tcp", func(c *Check) { c.TCP = dbPort }),
			inheritedBy("cache-port", "api", "tcp", func(c *Check) { c.TCP = &TCPCheck{Address: "cache:6379"} }),
			inheritedBy("mail-worker", "email", "heartbeat", func(c *Check) {
				c.Heartbeat = &HeartbeatCheck{Period: 5 * time.Minute, Grace: 2 * time.Minute,
					Token: "hb-file-token-5150", TokenFile: "testdata/secrets/heartbeat-token"}
			}),
			// grace defaults to 1h for a daily job; the 1m interval is within it.
			inheritedBy("nightly-backup", "web-app", "heartbeat", func(c *Check) {
				c.Heartbeat = &HeartbeatCheck{Period: 24 * time.Hour, Grace: time.Hour, Token: "inline-hb-token-77"}
			}),
			inheritedBy("email-queue", "email", "queue", func(c *Check) { c.Queue = emailQueue }),
			inheritedBy("import-queue", "email", "queue", func(c *Check) {
				c.Queue = &QueueCheck{Source: "rabbitmq", URL: "https://rabbit.acme.example:15671", Vhost: "prod", Key: "imports",
					Username: "tocsin", Password: "rabbit-inline-pass", TLSConfig: TLS{InsecureSkipVerify: true}, Window: 5 * time.Minute}
			}),
			// The window defaults to twice a stall_after over 2m30s.
			inheritedBy("index-queue", "api", "queue", func(c *Check) {
				c.Queue = &QueueCheck{Source: "http_json", URL: "http://search:9200/_stats", JSONPath: "queues.index.depth",
					StallAfter: 4 * time.Minute, Window: 8 * time.Minute}
			}),
			inheritedBy("push-queue", "api", "queue", func(c *Check) {
				c.Queue = &QueueCheck{Source: "prometheus", URL: "http://prometheus:9090", Query: "sum(push_queue_depth)", Window: 5 * time.Minute}
			}),
		},
		Maintenance: []Maintenance{{
			Name: "db-upgrade", Components: []string{"web-app", "api"}, Message: "Database upgrade",
		}, {
			// time_zone comes from page.time_zone.
			Name: "nightly-backup", Components: []string{"api"}, Message: "Nightly backup; the API may be slow",
			Cron: "30 23 * * *", Duration: 2 * time.Hour, TimeZone: "Europe/Berlin",
		}},
		secrets: cfg.secrets,
	}
	if s := cfg.Maintenance[1].Schedule(); s == nil || !s.Next(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)).Equal(time.Date(2026, 11, 21, 22, 30, 0, 0, time.UTC)) {
		t.Errorf("recurring window not parsed in Europe/Berlin: %v", s)
	}
	for i := range cfg.Maintenance {
		cfg.Maintenance[i].schedule = nil // checked above
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n%s\nwant:\n%s", dump(cfg), dump(want))
	}
}

// dump prints a config with its pointers followed and its secrets revealed.
func dump(c *Config) string { return stringify(reflect.ValueOf(*c)) }

func stringify(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return "&" + stringify(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return v.Interface().(time.Time).String()
		}
		var parts []string
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				parts = append(parts, v.Type().Field(i).Name+":"+stringify(v.Field(i)))
			}
		}
		return "{" + strings.Join(parts, " ") + "}"
	case reflect.Slice:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, stringify(v.Index(i)))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case reflect.Map:
		var parts []string
		for _, k := range v.MapKeys() {
			parts = append(parts, k.String()+"="+stringify(v.MapIndex(k)))
		}
		slices.Sort(parts)
		return "map[" + strings.Join(parts, " ") + "]"
	case reflect.String:
		return `"` + v.String() + `"`
	}
	return fmt.Sprint(v.Interface())
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"", "testdata/valid-minimal.yml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, LoadOptions{File: file})
			want := Config{
				Server: Server{Listen: ":8080", CORSOrigins: []string{"*"}, CacheMaxAge: 10 * time.Second,
					ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
					IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10},
				Redis:     Redis{KeyPrefix: "tocsin:", DialTimeout: 2 * time.Second, Timeout: 2 * time.Second},
				Ownership: Ownership{LeaseDuration: 15 * time.Second},
				Scheduler: Scheduler{MaxInFlight: 10000},
				Page:      Page{ID: "tocsin", Name: "Status", TimeZone: "UTC"},
				Log:       Log{Level: "info", Format: "json"},
				Defaults:  Defaults{Interval: 30 * time.Second, Timeout: 10 * time.Second, FailureThreshold: 3, SuccessThreshold: 2, FlapLowThreshold: 5, FlapHighThreshold: 30, Regional: "ignore"},
				Incidents: Incidents{GroupWindow: 15 * time.Minute, GroupBy: "relation", ResolveAfter: 5 * time.Minute, ReopenWindow: 30 * time.Minute, Retention: 2160 * time.Hour},
				secrets:   cfg.secrets,
			}
			if file != "" {
				want.Components = []Component{{ID: "web", Name: "Web", Regional: "ignore"}}
				want.Checks = []Check{{
					Name: "web-home", Component: "web", Type: "http",
					Interval: 30 * time.Second, Timeout: 10 * time.Second,
					FailureThreshold: 3, SuccessThreshold: 2, FlapLowThreshold: 5, FlapHighThreshold: 30, Impact: "major_outage",
					HTTP: httpDefaults("https://example.com/health"),
				}}
			}
			if !reflect.DeepEqual(*cfg, want) {
				t.Errorf("Load:\n%s\nwant:\n%s", dump(cfg), dump(&want))
			}
		})
	}
}

// TestLoadValues covers how values are read: nulls, inheritance, numbers
// in strings, timestamps and header names.
func TestLoadValues(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: writeConfig(t, `
server:
log: ~
defaults:
  interval: 20s
  failure_threshold: "010"
components: [{id: web, name: Web}]
checks:
  - name: a
    component: web
    type: http
    interval: 0
    timeout: 2s
    success_threshold: "5"
    http:
      url: https://example.com/
      headers: {X-Api.Key: dotted-value, Accept: "*/*"}
      expect_status: [200, "3xx"]
maintenance:
  - name: m
    components: [web]
    start: "2026-12-01T02:00:00.5Z"
    end: !!timestamp 2026-12-01T03:00:00Z
`)})
	if cfg.Server.Listen != ":8080" || cfg.Log.Level != "info" {
		t.Errorf("null sections erased defaults: server %+v, log %+v", cfg.Server, cfg.Log)
	}
	ch := cfg.Checks[0]
	if ch.Interval != 20*time.Second || ch.Timeout != 2*time.Second {
		t.Errorf("interval, timeout = %s, %s; want 20s (inherited), 2s", ch.Interval, ch.Timeout)
	}
	if ch.FailureThreshold != 10 || ch.SuccessThreshold != 5 {
		t.Errorf("thresholds = %d, %d; want 10 (decimal, not octal), 5", ch.FailureThreshold, ch.SuccessThreshold)
	}
	if got := ch.HTTP.Headers["X-Api.Key"].Reveal(); got != "dotted-value" {
		t.Errorf("header with a dot = %q (headers %v)", got, ch.HTTP.Headers)
	}
	if want := []string{"200", "3xx"}; !reflect.DeepEqual(ch.HTTP.ExpectStatus, want) {
		t.Errorf("expect_status = %q, want %q", ch.HTTP.ExpectStatus, want)
	}
	m := cfg.Maintenance[0]
	if want := time.Date(2026, 12, 1, 2, 0, 0, 5e8, time.UTC); !m.Start.Equal(want) {
		t.Errorf("start = %v, want %v", m.Start, want)
	}
	if want := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC); !m.End.Equal(want) {
		t.Errorf("end = %v, want %v", m.End, want)
	}
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	k8s := []string{
		// Kubernetes service variables for a service named tocsin.
		"TOCSIN_PORT=tcp://10.0.0.7:8080",
		"TOCSIN_SERVICE_HOST=10.0.0.7",
		"TOCSIN_SERVICE_PORT=8080",
		"TOCSIN_PORT_8080_TCP_ADDR=10.0.0.7",
		"TOCSIN_PORT_8080_TCP=tcp://10.0.0.7:8080",
	}
	tests := []struct {
		name  string
		env   []string
		args  []string
		check func(*Config) string
	}{
		{"file", nil, nil, expect(":7000", "warn", "text", "redis://file-redis:6379/0")},
		{"kubernetes service env is ignored", k8s, nil, expect(":7000", "warn", "text", "redis://file-redis:6379/0")},
		{"env over file", []string{"TOCSIN_SERVER__LISTEN=:7001", "TOCSIN_LOG__LEVEL=error"}, nil,
			expect(":7001", "error", "text", "redis://file-redis:6379/0")},
		{"flags over env", []string{"TOCSIN_SERVER__LISTEN=:7001", "TOCSIN_REDIS__URL=redis://env-redis:6379/0"},
			[]string{"--listen", ":7002", "--redis-url", "redis://flag-redis:6379/0", "--log-level", "debug", "--log-format", "json"},
			expect(":7002", "debug", "json", "redis://flag-redis:6379/0")},
		{"aliases as Prometheus' and Go's tools take them", nil,
			[]string{"--log-level", "warning", "--log-format", "logfmt"}, expect(":7000", "warn", "text", "redis://file-redis:6379/0")},
		{"aliases in any case", []string{"TOCSIN_LOG__LEVEL=WARNING", "TOCSIN_LOG__FORMAT=LogFmt"}, nil,
			expect(":7000", "warn", "text", "redis://file-redis:6379/0")},
		{"unset flags do not override", []string{"TOCSIN_SERVER__LISTEN=:7001"}, []string{"--config", "ignored.yml", "--verbose"},
			expect(":7001", "warn", "text", "redis://file-redis:6379/0")},
		{"empty env value", []string{"TOCSIN_REDIS__URL="}, nil, expect(":7000", "warn", "text", "")},
		{"env expands variables", []string{"TOCSIN_REDIS__URL=redis://:${PW}@env-redis:6379/2", "PW=env-redis-pw"}, nil,
			expect(":7000", "warn", "text", "redis://:env-redis-pw@env-redis:6379/2")},
		{"env types", []string{
			"TOCSIN_DEFAULTS__INTERVAL=1m", "TOCSIN_DEFAULTS__FAILURE_THRESHOLD=5",
			"TOCSIN_SERVER__CORS_ORIGINS=https://a.example, https://b.example",
			"TOCSIN_SERVER__API_TOKEN=env-api-token", "TOCSIN_PAGE__NAME=Env Status",
		}, nil, func(c *Config) string {
			got := []any{c.Defaults.Interval, c.Defaults.FailureThreshold, c.Server.CORSOrigins, c.Server.APIToken.Reveal(), c.Page.Name}
			want := []any{time.Minute, 5, []string{"https://a.example", "https://b.example"}, "env-api-token", "Env Status"}
			if !reflect.DeepEqual(got, want) {
				return "got " + stringify(reflect.ValueOf(got)) + ", want " + stringify(reflect.ValueOf(want))
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := pflag.NewFlagSet("tocsin", pflag.ContinueOnError)
			RegisterFlags(fs)
			fs.Bool("verbose", false, "a flag config does not know")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg := mustLoad(t, LoadOptions{File: "testdata/valid-override.yml", Env: tt.env, Flags: fs})
			if msg := tt.check(cfg); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func expect(listen, level, format, redisURL string) func(*Config) string {
	return func(c *Config) string {
		got := [4]string{c.Server.Listen, c.Log.Level, c.Log.Format, c.Redis.URL.Reveal()}
		if want := [4]string{listen, level, format, redisURL}; got != want {
			return strings.Join(got[:], " ") + ", want " + strings.Join(want[:], " ")
		}
		return ""
	}
}

func TestLoadEnvInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"unknown key", []string{"TOCSIN_SERVR__LISTEN=:1"}, `env TOCSIN_SERVR__LISTEN: unknown key "servr.listen" (did you mean "server.listen"?)`},
		{"below a value", []string{"TOCSIN_SERVER__LISTEN__PORT=1"}, `env TOCSIN_SERVER__LISTEN__PORT: unknown key "server.listen.port"`},
		{"empty segment", []string{"TOCSIN_LOG__=x"}, `env TOCSIN_LOG__: unknown key "log."`},
		{"section", []string{"TOCSIN_SERVER__=x"}, `env TOCSIN_SERVER__: unknown key "server."`},
		{"list", []string{"TOCSIN_CHECKS__0__NAME=x"}, `env TOCSIN_CHECKS__0__NAME: key "checks.0.name" cannot be set from the environment`},
		{"duration", []string{"TOCSIN_DEFAULTS__INTERVAL=5 minutes"}, `env TOCSIN_DEFAULTS__INTERVAL: invalid duration "5 minutes"`},
		{"integer", []string{"TOCSIN_DEFAULTS__FAILURE_THRESHOLD=many"}, `env TOCSIN_DEFAULTS__FAILURE_THRESHOLD: must be an integer`},
		{"unset variable", []string{"TOCSIN_REDIS__URL=${NOPE}"}, `env TOCSIN_REDIS__URL: environment variable "NOPE" is not set`},
		{"validated", []string{"TOCSIN_LOG__LEVEL=loud"}, `log.level: unknown level "loud" (want debug, info, warn or error)`},
		{"max in flight", []string{"TOCSIN_SCHEDULER__MAX_IN_FLIGHT=lots"}, `env TOCSIN_SCHEDULER__MAX_IN_FLIGHT: must be an integer`},
		{"max in flight negative", []string{"TOCSIN_SCHEDULER__MAX_IN_FLIGHT=-5"}, `scheduler.max_in_flight: must be at least 1`},
		{"all reported, sorted", []string{"TOCSIN_B__X=1", "TOCSIN_A__X=1", "TOCSIN_PORT=1"},
			"env TOCSIN_A__X: unknown key \"a.x\"\nenv TOCSIN_B__X: unknown key \"b.x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: "testdata/valid-minimal.yml", Env: tt.env})
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestMaxInFlightFromEnv: scheduler.max_in_flight, like every scalar key,
// can come from the environment.
func TestMaxInFlightFromEnv(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: "testdata/valid-minimal.yml", Env: []string{"TOCSIN_SCHEDULER__MAX_IN_FLIGHT=500"}})
	if cfg.Scheduler.MaxInFlight != 500 {
		t.Errorf("max_in_flight = %d, want 500 from the environment", cfg.Scheduler.MaxInFlight)
	}
}

func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("tocsin", pflag.ContinueOnError)
	RegisterFlags(fs)
	for _, name := range []string{"config", "listen", "redis-url", "log-level", "log-format", "source-address", "vantage"} {
		f := fs.Lookup(name)
		if f == nil || f.Value.Type() != "string" || f.Usage == "" {
			t.Errorf("flag --%s: %+v", name, f)
		}
	}
}

func TestFloatFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value, want string
		depth             float64
	}{
		{"integer", "1000", "", 1000},
		{"fraction", "2.5", "", 2.5},
		{"string from env style", `"300"`, "", 300},
		{"word", "lots", "checks[0].queue.degraded_depth: must be a number", 0},
		{"nan", `".nan"`, "checks[0].queue.degraded_depth: must be a number", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.yml")
			yml := "components: [{id: jobs, name: Jobs}]\nchecks:\n  - {name: q, component: jobs, type: queue, queue: {source: redis_list, redis_url: \"redis://127.0.0.1:1/0\", key: k, degraded_depth: " + tc.value + "}}\n"
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(LoadOptions{File: path})
			switch {
			case tc.want != "":
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.Checks[0].Queue.DegradedDepth != tc.depth:
				t.Errorf("degraded_depth = %v, want %v", cfg.Checks[0].Queue.DegradedDepth, tc.depth)
			}
		})
	}
}
