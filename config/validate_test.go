package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestLoadInvalid loads one fixture per rule and compares the whole error.
func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		want    string
	}{
		// Schema: keys and types.
		{"unknown-key", `checks[0].http.bogus: unknown key`},
		{"unknown-top-key", `servr: unknown key (did you mean "server"?)`},
		{"duration", `checks[1].interval: invalid duration "5 minutes"`},
		{"duration-number", `defaults.timeout: invalid duration 30: missing unit (e.g. "30s")`},
		{"integer", `defaults.failure_threshold: must be an integer`},
		{"boolean", `checks[0].http.follow_redirects: must be true or false`},
		{"list", `server.cors_origins: must be a list`},
		{"mapping", `checks[0].http: must be a mapping`},
		{"string", `page.name: must be a string`},
		{"time", `maintenance[0].start: invalid time "2026-12-01 02:00" (want RFC 3339, e.g. 2026-12-01T02:00:00Z)`},
		{"checks-not-list", `checks: must be a list`},
		{"null-check", `checks[0]: must be a mapping`},
		{"yaml", `config: testdata/invalid-yaml.yml: yaml: line 9: did not find expected ',' or ']'`},

		// Components and checks.
		{"component-id", `components[0].id: invalid id "Web App" (want [a-z0-9-]+)`},
		{"duplicate-component", `components[1].id: duplicate component id "web"`},
		{"component-name", `components[0].name: required`},
		{"check-name", `checks[0].name: invalid name "Web_Home" (want [a-z0-9-]+)`},
		{"check-name-missing", `checks[0].name: required`},
		{"duplicate-check", `checks[3].name: duplicate check name "web"`},
		{"unknown-component", `checks[0].component: unknown component "nope"`},
		{"depends-on-unknown", `components[1].depends_on: unknown component "x"`},
		{"depends-on-self", `components[0].depends_on: component "web-app" cannot depend on itself`},
		{"depends-on-cycle", `components[0].depends_on: dependency cycle web-app -> db -> web-app`},
		{"depends-on-cycle-long", `components[1].depends_on: dependency cycle api -> db -> cache -> api`},
		{"queue-missing", `checks[0].queue: required for type queue`},
		{"type-unknown", `checks[0].type: unknown type "foo" (want http, smtp, tcp, queue or heartbeat)`},
		{"type-missing", `checks[0].type: required`},
		{"http-missing", `checks[0].http: required for type http`},
		{"interval", `checks[0].interval: must be at least 10ms`},
		{"timeout", `checks[0].timeout: must be positive`},
		{"timeout-interval", `checks[2].timeout: must be less than interval (30s)`},
		{"threshold", `checks[0].failure_threshold: must be at least 1`},
		{"impact", `checks[0].impact: unknown impact "minor" (want partial_outage or major_outage)`},
		{"defaults", `defaults.timeout: must be less than interval (10s)`},
		{"flap-defaults", `defaults.flap_high_threshold: must be greater than flap_low_threshold (5)`},
		{"flap-low", `checks[0].flap_low_threshold: must be greater than 0`},
		{"flap-high", `checks[0].flap_high_threshold: must be at most 100`},
		{"flap-order", `checks[0].flap_low_threshold: must be less than flap_high_threshold (30)`},

		// HTTP checks.
		{"url", `checks[0].http.url: must be an absolute http or https URL`},
		{"url-parse", `checks[0].http.url: invalid URL: invalid port ":port" after host`},
		{"method", `checks[0].http.method: invalid method "GE T"`},
		{"header-name", `checks[0].http.headers.Bad Header: invalid header name`},
		{"basic-auth", `checks[0].http.basic_auth.username: required`},
		{"bearer-basic", `checks[0].http.bearer_token: cannot be combined with basic_auth`},
		{"expect-status", `checks[0].http.expect_status[1]: invalid status "6xx" (want 100-599 or 1xx-5xx)`},
		{"regex", "checks[0].http.body_regex: invalid regex: error parsing regexp: missing closing ): `(ok`"},
		{"max-redirects", `checks[0].http.max_redirects: must not be negative`},
		{"body-json", strings.Join([]string{
			`checks[0].http.body_json[0]: needs equals, min or max`,
			`checks[0].http.body_json[1].equals: cannot be combined with min or max`,
			`checks[0].http.body_json[2].min: must not be more than max (5)`,
		}, "\n")},
		{"degraded-latency", `checks[0].http.degraded_latency: must be less than timeout (5s)`},
		{"max-body-bytes", `checks[0].http.max_body_bytes: must be positive`},
		{"ca-file", `checks[0].http.tls.ca_file: no PEM certificate in "testdata/not-a-cert.pem"`},
		{"ca-file-missing", `checks[0].http.tls.ca_file: open testdata/missing.pem: no such file or directory`},
		{"cert-expiry-warning", `checks[0].http.tls.cert_expiry_warning: must not be negative`},
		{"client-cert", strings.Join([]string{
			`checks[0].http.tls.key_file: required with cert_file: a client certificate needs its key`,
			`checks[1].smtp.tls_config.cert_file: tls: found a certificate rather than a key in the PEM for the private key`,
			`checks[2].tcp.tls_config.key_file: /dev/zero: not a regular file`,
		}, "\n")},

		// SMTP and TCP checks.
		{"smtp-missing", `checks[0].smtp: required for type smtp`},
		{"tcp-missing", `checks[0].tcp: required for type tcp`},
		{"smtp-wrong-type", `checks[0].smtp: only valid for type smtp`},
		{"tcp-wrong-type", `checks[0].tcp: only valid for type tcp`},
		{"smtp-address", `checks[0].smtp.address: address mx.acme.example: missing port in address`},
		{"smtp-port", `checks[0].smtp.address: invalid port "0" (want 1-65535)`},
		{"smtp-tls", `checks[0].smtp.tls: unknown mode "ssl" (want none, starttls or implicit)`},
		{"smtp-tls-config", `checks[0].smtp.tls_config: needs tls starttls or implicit`},
		{"smtp-ca-file", `checks[0].smtp.tls_config.ca_file: no PEM certificate in "testdata/not-a-cert.pem"`},
		{"smtp-helo", `checks[0].smtp.helo: invalid name "my host" (no spaces or line breaks)`},
		{"smtp-banner", "checks[0].smtp.expect_banner: invalid regex: error parsing regexp: missing closing ): `(220`"},
		{"smtp-auth-username", `checks[0].smtp.auth.username: required`},
		{"smtp-auth-password", `checks[0].smtp.auth.password: required (or password_file)`},
		{"smtp-auth-both", `checks[0].smtp.auth.password_file: cannot be combined with checks[0].smtp.auth.password`},
		{"smtp-auth-mechanism", `checks[0].smtp.auth.mechanism: unknown mechanism "cram-md5" (want plain or login)`},
		{"smtp-send", strings.Join([]string{
			`checks[0].smtp.send.from: invalid address "probe" (want local@domain)`,
			`checks[0].smtp.send.to: required`,
		}, "\n")},
		{"smtp-degraded-latency", `checks[0].smtp.degraded_latency: must be less than timeout (5s)`},
		{"tcp-address", `checks[0].tcp.address: required`},
		{"tcp-tls-config", `checks[0].tcp.tls_config: needs tls: true`},
		{"tcp-expect", "checks[0].tcp.expect: invalid regex: error parsing regexp: missing argument to repetition operator: `+`"},
		{"tcp-degraded-latency", `checks[0].tcp.degraded_latency: must not be negative`},

		// Heartbeat checks.
		{"heartbeat-missing", `checks[0].heartbeat: required for type heartbeat`},
		{"heartbeat-wrong-type", `checks[0].heartbeat: only valid for type heartbeat`},
		{"heartbeat-period", `checks[0].heartbeat.period: required`},
		{"heartbeat-period-negative", `checks[0].heartbeat.period: must be positive`},
		{"heartbeat-grace", `checks[0].heartbeat.grace: must not be negative`},
		{"heartbeat-token-both", `checks[0].heartbeat.token_file: cannot be combined with checks[0].heartbeat.token`},
		{"heartbeat-token", `checks[0].heartbeat.token: must not contain spaces or control characters`},
		{"heartbeat-timeout", `checks[0].timeout: must be less than interval (30s)`},

		// Queue checks.
		{"queue-wrong-type", `checks[0].queue: only valid for type queue`},
		{"queue-source", `checks[0].queue.source: unknown source "kafka" (want redis_list, redis_stream, sidekiq, rabbitmq, http_json or prometheus)`},
		{"queue-source-missing", `checks[0].queue.source: required`},
		{"queue-redis-url", `checks[0].queue.redis_url: required (or redis_url_file)`},
		{"queue-redis-url-scheme", `checks[0].queue.redis_url: scheme must be redis, rediss or unix`},
		{"queue-key", `checks[0].queue.key: required`},
		{"queue-json-path-wrong-source", `checks[0].queue.json_path: only valid for source http_json`},
		{"queue-url-wrong-source", `checks[0].queue.url: only valid for source rabbitmq, http_json or prometheus`},
		{"queue-group-wrong-source", `checks[0].queue.group: only valid for source redis_stream`},
		{"queue-password-wrong-source", `checks[0].queue.password: only valid for source rabbitmq, http_json or prometheus`},
		{"queue-rabbitmq", strings.Join([]string{
			`checks[0].queue.key: required`,
			`checks[0].queue.url: required`,
		}, "\n")},
		{"queue-url-scheme", `checks[0].queue.url: must be an absolute http or https URL`},
		{"queue-url-credentials", `checks[0].queue.url: credentials in the URL cannot be combined with username or password`},
		{"queue-json-path", `checks[0].queue.json_path: required`},
		{"queue-query", `checks[0].queue.query: required`},
		{"queue-depths", `checks[0].queue.degraded_depth: must be less than down_depth (100)`},
		{"queue-depth-negative", `checks[0].queue.down_depth: must not be negative`},
		{"queue-stall-after", `checks[0].queue.stall_after: must not be more than window (5m0s)`},
		{"queue-durations-negative", strings.Join([]string{
			`checks[0].queue.max_age: must not be negative`,
			`checks[0].queue.window: must not be negative`,
		}, "\n")},
		{"queue-min-consumers", `checks[0].queue.min_consumers: source redis_list does not know consumers`},
		{"queue-min-consumers-group", `checks[0].queue.min_consumers: needs group: a stream has consumers only in a consumer group`},
		{"queue-min-consumers-negative", `checks[0].queue.min_consumers: must not be negative`},
		{"queue-max-age", `checks[0].queue.max_age: source prometheus does not know the age of items`},
		{"queue-tls-config", `checks[0].queue.tls_config: needs an https url`},
		{"queue-tls-config-redis", `checks[0].queue.tls_config: needs a rediss:// redis_url`},
		{"queue-password-both", `checks[0].queue.password_file: cannot be combined with checks[0].queue.password`},

		// Vantages.
		{"vantage-name", strings.Join([]string{
			`vantages[1]: invalid vantage name "EU_West" (want 1-32 lower-case letters, digits and '-', starting with a letter)`,
			`vantages[2]: invalid vantage name "9-south" (want 1-32 lower-case letters, digits and '-', starting with a letter)`,
			`vantages[3]: invalid vantage name "this-vantage-name-is-much-too-long" (want 1-32 lower-case letters, digits and '-', starting with a letter)`,
		}, "\n")},
		{"vantage-duplicate", `vantages[2]: duplicate vantage "eu-west"`},
		{"scheduler-vantage", `scheduler.vantage: "eu-wset" is not a declared vantage (declared: eu-west, us-east); did you mean "eu-west"?`},
		{"scheduler-vantage-undeclared", `scheduler.vantage: set, but no vantages are declared`},
		{"check-vantages", strings.Join([]string{
			`checks[2].vantages[1]: duplicate vantage "us-east"`,
			`checks[3].vantages[1]: "eu-wset" is not a declared vantage (declared: eu-west, us-east); did you mean "eu-west"?`,
			`checks[3].vantages[2]: "mars" is not a declared vantage (declared: eu-west, us-east)`,
		}, "\n")},
		{"heartbeat-vantages", `checks[0].vantages: heartbeat checks are pushed to tocsin and have no vantage`},
		{"component-vantages", strings.Join([]string{
			`components[1].vantages[0]: "mars" is not a declared vantage (declared: eu-west, us-east)`,
			`components[1].vantages[2]: duplicate vantage "eu-west"`,
		}, "\n")},
		{"defaults-vantages", `defaults.vantages[0]: "us-eats" is not a declared vantage (declared: eu-west, us-east); did you mean "us-east"?`},
		{"vantages-undeclared", `checks[0].vantages[0]: "eu-west" is not a declared vantage (none are declared)`},
		{"quorum", strings.Join([]string{
			`components[0].quorum: invalid quorum "most" (want majority or a whole number of at least 1)`,
			`components[1].quorum: invalid quorum 0 (want majority or a whole number of at least 1)`,
			`components[2].quorum: invalid quorum -1 (want majority or a whole number of at least 1)`,
			`components[3].quorum: invalid quorum 1.5 (want majority or a whole number of at least 1)`,
			`components[4].quorum: must be majority or a whole number of at least 1`,
			`components[5].quorum: invalid quorum "Majority" (want majority or a whole number of at least 1)`,
		}, "\n")},
		{"quorum-vantages", strings.Join([]string{
			`components[1].quorum: 4 is more than the 3 vantages that probe this component`,
			`components[2].quorum: 3 is more than the 2 vantages that probe this component`,
			`components[3].quorum: 2 is more than the 1 vantage that probes this component`,
		}, "\n")},
		{"quorum-defaults", `defaults.quorum: 4 is more than the 3 declared vantages`},
		{"quorum-inherited", `components[1].quorum: 3 (from defaults.quorum) is more than the 2 vantages that probe this component`},
		{"quorum-no-vantages", strings.Join([]string{
			`defaults.quorum: needs vantages; none are declared`,
			`components[1].quorum: needs vantages; none are declared`,
		}, "\n")},
		{"regional", strings.Join([]string{
			`defaults.regional: unknown value "page" (want ignore or degraded)`,
			`components[1].regional: unknown value "Degraded" (want ignore or degraded)`,
		}, "\n")},

		// Server, store, page, log, incidents.
		{"listen", `server.listen: required`},
		{"listen-port", `server.listen: address 8080: missing port in address`},
		{"listen-port-range", `server.listen: invalid port "99999" (want 0-65535 or a service name)`},
		{"debug-listen-port", `server.debug_listen: invalid port "nope" (want 0-65535 or a service name)`},
		{"debug-listen", `server.debug_listen: must be a loopback address (127.0.0.1:6060, [::1]:6060 or localhost:6060), not "0.0.0.0:6060": the profiler has no authentication`},
		{"cache-max-age", `server.cache_max_age: must not be negative`},
		{"read-header-timeout", `server.read_header_timeout: must be positive`},
		{"read-header-timeout-order", `server.read_header_timeout: must not be more than read_timeout (10s)`},
		{"read-timeout", `server.read_timeout: must be positive`},
		{"write-timeout", `server.write_timeout: must be positive`},
		{"idle-timeout", `server.idle_timeout: must be positive`},
		{"max-header-bytes", `server.max_header_bytes: must be between 4096 and 1048576`},
		{"max-header-bytes-large", `server.max_header_bytes: must be between 4096 and 1048576`},
		{"redis-url", `redis.url: scheme must be redis, rediss or unix`},
		{"redis-db", `redis.url: invalid database number (want redis://host:port/N)`},
		{"key-prefix", `redis.key_prefix: required`},
		{"lease-duration", `ownership.lease_duration: must be between 100ms and 10m0s`},
		{"max-in-flight", `scheduler.max_in_flight: must be at least 1`},
		{"redis-timeout", `redis.timeout: must be positive`},
		{"page-id", `page.id: invalid id "Acme Status" (want [a-z0-9-]+)`},
		{"page-url", `page.url: must be an absolute http or https URL`},
		{"time-zone", `page.time_zone: unknown time zone "Mars/Olympus_Mons"`},
		{"log-level", `log.level: unknown level "verbose" (want debug, info, warn or error)`},
		{"log-format", `log.format: unknown format "xml" (want json or text)`},
		{"incidents", `incidents.resolve_after: must be positive`},
		{"incidents-negative", `incidents.group_window: must not be negative`},
		{"group-by", `incidents.group_by: unknown grouping "time" (want relation or window)`},

		// Notifications and the watchdog: never quoting a URL or key.
		{"notify-type", `notify[0].type: unknown type "sms" (want webhook, slack, pagerduty or alertmanager)`},
		{"notify-url", `notify[0].url: required`},
		{"notify-url-scheme", `notify[0].url: scheme must be http or https`},
		{"notify-routing-key", `notify[0].routing_key: required for pagerduty`},
		{"notify-routing-key-other", `notify[0].routing_key: only for pagerduty`},
		{"notify-secret-other", `notify[0].secret: only for webhook`},
		{"notify-min-impact", `notify[0].min_impact: unknown impact "severe" (want none, minor, major or critical)`},
		{"notify-component", `notify[0].components[1]: unknown component "db"`},
		{"notify-repeat", `notify[0].repeat_every: must be at least 1s (or 0: no reminders)`},
		{"notify-retry", `notify[0].retry_max: must be at least retry_min (1m0s)`},
		{"notify-duplicate", `notify[1].name: duplicate receiver name "hooks"`},
		{"notify-name", `notify[0].name: invalid name "On Call" (want [a-z0-9-]+)`},
		{"watchdog-url", `watchdog.url: required with watchdog.interval`},
		{"watchdog-interval", `watchdog.interval: must be at least 1s`},

		// Maintenance.
		{"maintenance-name", `maintenance[0].name: required`},
		{"maintenance-components", `maintenance[0].components: required`},
		{"maintenance-unknown-component", `maintenance[0].components[1]: unknown component "db"`},
		{"maintenance-end", `maintenance[0].end: must be after start`},
		{"maintenance-start", `maintenance[0].start: required (or cron and duration)`},
		{"maintenance-cron", "maintenance[0].cron: invalid cron expression \"30 25 * * *\": end of range (25) above maximum (23): 25"},
		{"maintenance-cron-fields", `maintenance[0].cron: invalid cron expression "30 23 * * * *" (want 5 fields: minute hour day-of-month month day-of-week)`},
		{"maintenance-cron-start", `maintenance[0].cron: cannot be combined with maintenance[0].start`},
		{"maintenance-duration", `maintenance[0].duration: required with cron`},
		{"maintenance-duration-negative", `maintenance[0].duration: must be positive`},
		{"maintenance-fixed-recurring-fields", strings.Join([]string{
			`maintenance[0].duration: only valid with cron`,
			`maintenance[0].time_zone: only valid with cron`,
		}, "\n")},
		{"maintenance-time-zone", `maintenance[0].time_zone: unknown time zone "Mars/Olympus_Mons"`},

		// Secrets.
		{"secret-both", `server.api_token_file: cannot be combined with server.api_token`},
		{"secret-file", `server.api_token_file: open testdata/secrets/missing: no such file or directory`},
		{"secret-empty", `checks[0].http.bearer_token_file: file "testdata/secrets/empty" is empty`},
		{"env-var", `checks[0].http.headers.Authorization: environment variable "API_KEY" is not set`},
		{"env-var-syntax", `checks[0].http.headers.Authorization: unterminated "${" (write "$${" for a literal "${")`},

		// Everything is reported, in config order.
		{"multiple", strings.Join([]string{
			`server.cache_max_age: must not be negative`,
			`log.level: unknown level "loud" (want debug, info, warn or error)`,
			`components[1].id: duplicate component id "web"`,
			`components[1].name: required`,
			`checks[0].component: unknown component "nope"`,
			`checks[0].timeout: must be less than interval (10s)`,
			`checks[0].http.url: must be an absolute http or https URL`,
			`checks[0].http.expect_status[2]: invalid status "700" (want 100-599 or 1xx-5xx)`,
			`checks[1].name: duplicate check name "web-home"`,
			`checks[1].tcp: required for type tcp`,
			`maintenance[0].components[0]: unknown component "db"`,
			`maintenance[0].end: must be after start`,
		}, "\n")},
		// Both stages in one run: what could not be read (unknown keys,
		// wrong types) and what Validate finds in the rest, in config
		// order; a value left out is not reported again ("required").
		{"multiple-stages", strings.Join([]string{
			`checks[0].component: unknown component "nope"`,
			`checks[0].intervall: unknown key (did you mean "interval"?)`,
			`checks[1].timeout: invalid duration "soon"`,
			`checks[1].depends: unknown key`,
		}, "\n")},
		{"multiple-files", strings.Join([]string{
			`server.cache_max_age: must not be negative`,
			`checks[0].http.bearer_token_file: open testdata/secrets/missing: no such file or directory`,
			`checks[0].http.max_redirects: must not be negative`,
		}, "\n")},
		{"multiple-schema", strings.Join([]string{
			`server.listen: must be a string`,
			`server.bogus: unknown key`,
			`defaults.interval: invalid duration "5 minutes"`,
			`defaults.failure_threshold: must be an integer`,
			`checks[0].component: unknown component "web"`,
			`checks[0].http.headers: must be a mapping`,
			`checks[0].http.follow_redirects: must be true or false`,
			`checks[0].extra: unknown key`,
			`maintenance[0].components: must be a list`,
			`maintenance[0].start: invalid time "tomorrow" (want RFC 3339, e.g. 2026-12-01T02:00:00Z)`,
		}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(LoadOptions{File: "testdata/invalid-" + tt.fixture + ".yml"})
			if err == nil {
				t.Fatalf("Load succeeded, want error %q", tt.want)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{File: "testdata/nope.yml"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if want := "config: open testdata/nope.yml: no such file or directory"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// TestProblemsWrap checks that causes stay reachable through the joined error.
func TestProblemsWrap(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{File: "testdata/invalid-secret-file.yml"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestValidateZeroConfig(t *testing.T) {
	t.Parallel()
	err := (&Config{}).Validate()
	if err == nil {
		t.Fatal("Validate of an empty Config succeeded")
	}
	for _, want := range []string{"server.listen: required", "redis.key_prefix: required", "page.id: required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
