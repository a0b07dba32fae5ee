package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSecretsCollected(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: "testdata/valid-full.yml", Env: fullEnv})
	want := []string{
		"inline-pass-${NOT_EXPANDED}", // basic_auth.password
		"tok-file-api-0123456789",     // server.api_token_file
		"basic-file-pass-xyz",         // basic_auth.password_file
		"smtp-file-pass-4242",         // smtp.auth.password_file
		"bearer-file-abcdef",          // bearer_token_file
		"hb-file-token-5150",          // heartbeat.token_file
		"inline-hb-token-77",          // heartbeat.token
		"queue-redis-pass-9",          // password in queue.redis_url
		"rabbit-inline-pass",          // queue.password
		"hunter2-url-pass",            // password in http.url
		"api-key-value-1",             // ${API_KEY}, and a header value
		"redis-pass-1234",             // ${REDIS_PASSWORD}, and the password in redis.url
		"token-v2-value",              // ${API_TOKEN_V2}, and bearer_token
	}
	if got := cfg.Secrets(); !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets() = %q\nwant %q", got, want)
	}
	// "application/json" is an Accept header: harmless, not scrubbed.
	for _, s := range cfg.Secrets() {
		if s == "application/json" {
			t.Errorf("Secrets() holds the Accept header value")
		}
	}
}

func TestSecretsFromFilesAndEnv(t *testing.T) {
	t.Parallel()
	abs := mustAbs(t, "testdata/secrets/api-token")
	cfg := mustLoad(t, LoadOptions{
		// ${SHORT} expands to a value too short to be worth scrubbing.
		File: writeConfig(t, "page:\n  name: Status ${SHORT}\nredis:\n  url_file: "+
			filepath.Join(mustAbs(t, "testdata"), "secrets/redis-url")+"\n"),
		Env: []string{
			"TOCSIN_SERVER__API_TOKEN_FILE=" + abs,
			"SHORT=abc",
		},
	})
	if got := cfg.Redis.URL.Reveal(); got != "redis://:redis-file-pass@redis:6379/1" {
		t.Errorf("redis.url = %q", got)
	}
	if got := cfg.Server.APIToken.Reveal(); got != "tok-file-api-0123456789" {
		t.Errorf("server.api_token = %q", got)
	}
	want := []string{"redis://:redis-file-pass@redis:6379/1", "tok-file-api-0123456789", "redis-file-pass"}
	if got := cfg.Secrets(); !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets() = %q, want %q", got, want)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestSecretsNotPrinted checks that printing (%v, %+v, %#v), encoding or
// logging a loaded Config shows no secret. (Verbs that do not fit, like %s or
// %d on a struct, print raw values: fmt skips String methods then. go vet
// reports such verbs.)
func TestSecretsNotPrinted(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{File: "testdata/valid-full.yml", Env: fullEnv})
	var out []string
	for _, v := range []any{cfg, *cfg, cfg.Server, cfg.Redis, cfg.Checks, *cfg.Checks[0].HTTP, *cfg.Checks[0].HTTP.BasicAuth, *cfg.Checks[1].HTTP} {
		out = append(out, fmt.Sprintf("%v %+v %#v", v, v, v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		out = append(out, string(b))
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg, "checks", cfg.Checks)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "checks", cfg.Checks)
	out = append(out, logs.String())
	all := strings.Join(out, "\n")
	for _, s := range cfg.Secrets() {
		if strings.Contains(all, s) {
			t.Errorf("output contains secret %q", s)
		}
	}
	if !strings.Contains(all, redacted) {
		t.Errorf("output has no %q placeholder: %s", redacted, all)
	}
}

// TestSecretsNotInErrors loads configs that are wrong where a secret is, and
// checks that no error shows it.
func TestSecretsNotInErrors(t *testing.T) {
	t.Parallel()
	const secret = "Sup3r-Secret-Value"
	env := []string{"SECRET=" + secret}
	base := "components: [{id: web, name: Web}]\nchecks:\n  - {name: web, component: web, type: http, http: {url: 'https://example.com/'}}\n"
	tests := []struct {
		name string
		yaml string
		env  []string
	}{
		{"duration", "defaults:\n  interval: ${SECRET}\n" + base, nil},
		{"name", "page:\n  id: ${SECRET}\n" + base, nil},
		{"env value", base, []string{"TOCSIN_DEFAULTS__TIMEOUT=x${SECRET}"}},
		{"http url scheme", strings.Replace(base, "https://example.com/", "ftp://u:"+secret+"@example.com/", 1), nil},
		{"http url parse", strings.Replace(base, "https://example.com/", "https://u:"+secret+"@example.com:x/", 1), nil},
		{"http url escape", strings.Replace(base, "https://example.com/", "https://u:"+secret+"%zz@example.com/", 1), nil},
		{"redis url", "redis:\n  url: 'http://:" + secret + "@redis'\n" + base, nil},
		{"redis url from env", base, []string{"TOCSIN_REDIS__URL=redis://:" + secret + "@redis:6379/x"}},
		{"header value", strings.Replace(base, "url: 'https://example.com/'", "url: 'https://example.com/', headers: {X-Key: \"a\\r\\n"+secret+"\"}", 1), nil},
		{"both set", "server:\n  api_token: " + secret + "\n  api_token_file: /nonexistent\n" + base, nil},
		{"regex", strings.Replace(base, "url: 'https://example.com/'", "url: 'https://example.com/', body_regex: '${SECRET}('", 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeConfig(t, tt.yaml), Env: append(tt.env, env...)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestSecretFileRelativeToConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("relative-token\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tocsin.yml")
	if err := os.WriteFile(path, []byte("server:\n  api_token_file: token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, LoadOptions{File: path})
	if got := cfg.Server.APIToken.Reveal(); got != "relative-token" {
		t.Errorf("api_token = %q, want %q", got, "relative-token")
	}
	if want := filepath.Join(dir, "token"); cfg.Server.APITokenFile != want {
		t.Errorf("api_token_file = %q, want %q", cfg.Server.APITokenFile, want)
	}
}

func TestExpandVars(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x${A}y${B_2}z", want: "xalphaybetaz"},
		{in: "[${EMPTY}]", want: "[]"},
		{in: "$${A}", want: "${A}"},
		{in: "$${A} ${A}", want: "${A} alpha"},
		{in: "$A $ {A} cost: 5$", want: "$A $ {A} cost: 5$"},
		{in: "${UNSET}", err: `environment variable "UNSET" is not set`},
		{in: "${A", err: `unterminated "${" (write "$${" for a literal "${")`},
		{in: "${}", err: `invalid variable name in "${...}" (write "$${" for a literal "${")`},
		{in: "${1A}", err: `invalid variable name in "${...}" (write "$${" for a literal "${")`},
		{in: "${A-B}", err: `invalid variable name in "${...}" (write "$${" for a literal "${")`},
	}
	for _, tt := range tests {
		got, _, err := expandVars(tt.in, lookup)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("expandVars(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandVars(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSecretFileNotRegular(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, want string }{
		{"/dev/zero", "server.api_token_file: /dev/zero: not a regular file"},
		{mustAbs(t, "testdata"), "server.api_token_file: " + mustAbs(t, "testdata") + ": not a regular file"},
	}
	for _, tt := range tests {
		_, err := Load(LoadOptions{File: writeConfig(t, "server:\n  api_token_file: "+tt.path+"\n")})
		if err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %s", err, tt.want)
		}
	}
}
