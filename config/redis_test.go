package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestRedisEndpoint: each way of naming the store gives the endpoint the
// client is built from (cmd/tocsin/store.go).
func TestRedisEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       RedisEndpoint
	}{
		{"embedded", `{}`, RedisEndpoint{Mode: RedisModeEmbedded}},
		{"single", `{url: "redis://:pw@r:6379/2"}`, RedisEndpoint{Mode: RedisModeSingle, URL: "redis://:pw@r:6379/2"}},
		{"sentinel URL", `{url: "redis+sentinel://:p%40ss@s1:26379,s2:26379,s3:26379/mymaster/3"}`, RedisEndpoint{
			Mode: RedisModeSentinel, Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterName: "mymaster", Password: "p@ss", DB: 3}},
		{"sentinel URL, default db", `{url: "rediss+sentinel://u:p@s1:26379/m"}`, RedisEndpoint{
			Mode: RedisModeSentinel, Addrs: []string{"s1:26379"}, MasterName: "m", Username: "u", Password: "p", TLS: true}},
		{"cluster URL", `{url: "redis+cluster://:pw@n1:6379,n2:6379"}`, RedisEndpoint{
			Mode: RedisModeCluster, Addrs: []string{"n1:6379", "n2:6379"}, Password: "pw"}},
		{"password with / and @", `{url: "redis+sentinel://u:Zk3/9x@Qw==@[::1]:26379,[::1]:26380/m/2"}`, RedisEndpoint{
			Mode: RedisModeSentinel, Addrs: []string{"[::1]:26379", "[::1]:26380"}, MasterName: "m", Username: "u", Password: "Zk3/9x@Qw==", DB: 2}},
		{"sentinel keys", `{sentinel: {master_name: m, addrs: ["s1:26379", "s2:26379"], username: u, password: p, sentinel_password: sp, db: 1}}`,
			RedisEndpoint{Mode: RedisModeSentinel, Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "m", Username: "u", Password: "p", SentinelPassword: "sp", DB: 1}},
		{"cluster keys", `{cluster: {addrs: ["n1:6379"], password: p, tls: true}}`,
			RedisEndpoint{Mode: RedisModeCluster, Addrs: []string{"n1:6379"}, Password: "p", TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, LoadOptions{File: writeConfig(t, "redis: "+tc.yaml+"\n")})
			got, err := cfg.Redis.Endpoint()
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Endpoint() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestRedisInvalid: every mistake in the redis section is named by its key,
// and no message quotes a password.
func TestRedisInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"two ways", `{url: "redis://r:6379", sentinel: {master_name: m, addrs: ["s:26379"]}}`, "redis: set one of url (or url_file), sentinel and cluster"},
		{"sentinel and cluster", `{cluster: {addrs: ["n:6379"]}, sentinel: {master_name: m, addrs: ["s:26379"]}}`, "redis: set one of url"},
		{"no master name", `{sentinel: {addrs: ["s:26379"]}}`, "redis.sentinel.master_name: required"},
		{"no sentinels", `{sentinel: {master_name: m}}`, "redis.sentinel.addrs: required: at least one host:port"},
		{"bad sentinel port", `{sentinel: {master_name: m, addrs: ["s:99999"]}}`, `redis.sentinel.addrs[0]: invalid port "99999"`},
		{"no cluster nodes", `{cluster: {password: secret-pw}}`, "redis.cluster.addrs: required"},
		{"bad cluster addr", `{cluster: {addrs: ["n1"]}}`, "redis.cluster.addrs[0]:"},
		{"sentinel URL without master", `{url: "redis+sentinel://:secret-pw@s1:26379"}`, "redis.url: missing the master name"},
		{"sentinel URL bad db", `{url: "redis+sentinel://:secret-pw@s1:26379/m/x"}`, "redis.url: invalid database number"},
		{"sentinel URL bad host", `{url: "redis+sentinel://:secret-pw@s1,s2:26379/m"}`, `redis.url: host "s1": want host:port`},
		{"password with a slash, bad host", `{url: "redis+cluster://:secret-pw/x@n1"}`, `redis.url: host "n1": want host:port`},
		{"cluster URL with db", `{url: "redis+cluster://:secret-pw@n1:6379/1"}`, "redis.url: a Redis Cluster has only database 0"},
		{"URL with query", `{url: "redis+cluster://:secret-pw@n1:6379?x=1"}`, "redis.url: a redis+cluster URL takes no query"},
		{"unknown shape", `{url: "redis+proxy://:secret-pw@n1:6379"}`, "redis.url: scheme must be redis, rediss, unix, redis+sentinel"},
		{"typo", `{sentinel: {master_nme: m, addrs: ["s:26379"]}}`, `redis.sentinel.master_nme: unknown key (did you mean "master_name"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeConfig(t, "redis: "+tc.yaml+"\n")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v; want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

// TestRedisPasswordFiles: the passwords of a Sentinel or Cluster come from
// files, as redis.url does from url_file, and are scrubbed from output.
func TestRedisPasswordFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, v := range map[string]string{"pw": "data-pw\n", "spw": "sentinel-pw\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mustLoad(t, LoadOptions{File: writeConfig(t, `
redis:
  sentinel: {master_name: m, addrs: ["s:26379"], password_file: `+filepath.Join(dir, "pw")+`, sentinel_password_file: `+filepath.Join(dir, "spw")+`}
`)})
	e, err := cfg.Redis.Endpoint()
	if err != nil || e.Password != "data-pw" || e.SentinelPassword != "sentinel-pw" {
		t.Fatalf("Endpoint() = %+v, %v; want the passwords from the files", e, err)
	}
	if got := cfg.Secrets(); !slices.Contains(got, "data-pw") || !slices.Contains(got, "sentinel-pw") {
		t.Errorf("Secrets() = %d values without both passwords: logs would not scrub them", len(got))
	}

	_, err = Load(LoadOptions{File: writeConfig(t, `
redis:
  cluster: {addrs: ["n:6379"], password: inline, password_file: `+filepath.Join(dir, "pw")+`}
`)})
	if err == nil || !strings.Contains(err.Error(), "redis.cluster.password_file: cannot be combined with redis.cluster.password") {
		t.Errorf("Load: %v; want password and password_file refused together", err)
	}
}
