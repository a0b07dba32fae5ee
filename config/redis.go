package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisSentinel finds the primary through Redis Sentinel, which the usual
// Kubernetes charts run: tocsin follows it across failovers.
type RedisSentinel struct {
	// MasterName is the name the sentinels monitor the primary under.
	MasterName string `koanf:"master_name"`
	// Addrs are the sentinels, host:port each.
	Addrs []string `koanf:"addrs"`
	// Username and Password authenticate to the data nodes (requirepass or
	// an ACL user).
	Username     string `koanf:"username"`
	Password     Secret `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
	// SentinelUsername and SentinelPassword authenticate to the sentinels,
	// when they have a password of their own.
	SentinelUsername     string `koanf:"sentinel_username"`
	SentinelPassword     Secret `koanf:"sentinel_password"`
	SentinelPasswordFile string `koanf:"sentinel_password_file"`
	DB                   int    `koanf:"db"`
	// TLS connects to the sentinels and the data nodes over TLS, verified
	// against the system's roots.
	TLS bool `koanf:"tls"`
}

// RedisCluster is a Redis Cluster, found from any of its nodes. Every key
// tocsin writes carries one hash tag, so one slot (one primary) holds them
// all.
type RedisCluster struct {
	// Addrs are seed nodes, host:port each; the rest are discovered.
	Addrs        []string `koanf:"addrs"`
	Username     string   `koanf:"username"`
	Password     Secret   `koanf:"password"`
	PasswordFile string   `koanf:"password_file"`
	TLS          bool     `koanf:"tls"`
}

// The shapes of Redis tocsin can use.
const (
	RedisModeEmbedded = "embedded" // nothing configured: in-process, not durable
	RedisModeSingle   = "single"   // one endpoint: redis://, rediss://, unix://
	RedisModeSentinel = "sentinel" // a primary found through Sentinel
	RedisModeCluster  = "cluster"  // a Redis Cluster
)

// RedisEndpoint is where the store is, whichever way it was configured:
// redis.url (any of its schemes) or redis.sentinel or redis.cluster.
type RedisEndpoint struct {
	Mode string
	// URL is redis.url for RedisModeSingle, as go-redis reads it.
	URL Secret
	// Addrs are the sentinels (RedisSentinel) or the seed nodes
	// (RedisCluster).
	Addrs            []string
	MasterName       string
	Username         string
	Password         Secret
	SentinelUsername string
	SentinelPassword Secret
	DB               int
	TLS              bool
}

// Endpoint says where the store is. Validate has checked what it parses,
// so an error here is one Validate reported.
func (r Redis) Endpoint() (RedisEndpoint, error) {
	switch {
	case r.URL != "":
		return parseRedisURL(r.URL.Reveal())
	case len(r.Sentinel.Addrs) > 0:
		s := r.Sentinel
		return RedisEndpoint{Mode: RedisModeSentinel, Addrs: s.Addrs, MasterName: s.MasterName, Username: s.Username,
			Password: s.Password, SentinelUsername: s.SentinelUsername, SentinelPassword: s.SentinelPassword, DB: s.DB, TLS: s.TLS}, nil
	case len(r.Cluster.Addrs) > 0:
		c := r.Cluster
		return RedisEndpoint{Mode: RedisModeCluster, Addrs: c.Addrs, Username: c.Username, Password: c.Password, TLS: c.TLS}, nil
	}
	return RedisEndpoint{Mode: RedisModeEmbedded}, nil
}

// parseRedisURL reads redis.url: a single endpoint (redis://, rediss://,
// unix://, as go-redis reads them) or several hosts of a Sentinel or a
// Cluster:
//
//	redis+sentinel://[[user]:password@]host:port[,host:port...]/MASTER[/DB]
//	redis+cluster://[[user]:password@]host:port[,host:port...]
//
// rediss+sentinel:// and rediss+cluster:// use TLS. The password is the
// data nodes'. No error quotes the URL: it may hold the password.
func parseRedisURL(raw string) (RedisEndpoint, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return RedisEndpoint{}, errors.New("want a URL such as redis://host:6379/0")
	}
	base, shape, multi := strings.Cut(scheme, "+")
	if !multi {
		if msg := redisURLProblem(raw); msg != "" {
			return RedisEndpoint{}, errors.New(msg)
		}
		return RedisEndpoint{Mode: RedisModeSingle, URL: Secret(raw)}, nil
	}
	if base != "redis" && base != "rediss" || shape != "sentinel" && shape != "cluster" {
		return RedisEndpoint{}, errors.New("scheme must be redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster")
	}
	if strings.ContainsAny(rest, "?#") {
		return RedisEndpoint{}, fmt.Errorf("a %s URL takes no query or fragment: set the other redis.* keys instead", scheme)
	}
	e := RedisEndpoint{TLS: base == "rediss"}
	// The user info ends at the last "@": a password may hold "/" (base64
	// does), so it is cut off before the path is.
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, pass, _ := strings.Cut(rest[:i], ":")
		u, err1 := url.PathUnescape(user)
		pw, err2 := url.PathUnescape(pass)
		if err1 != nil || err2 != nil {
			return RedisEndpoint{}, errors.New("invalid escape in the user or password")
		}
		e.Username, e.Password = u, Secret(pw)
		rest = rest[i+1:]
	}
	authority, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(authority, ",") {
		host, port, err := net.SplitHostPort(h)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return RedisEndpoint{}, fmt.Errorf("host %q: want host:port with a port in 1-65535", h)
		}
		e.Addrs = append(e.Addrs, h)
	}
	parts := strings.Split(path, "/")
	switch shape {
	case "sentinel":
		e.Mode = RedisModeSentinel
		if parts[0] == "" {
			return RedisEndpoint{}, errors.New("missing the master name (want redis+sentinel://host:26379,host:26379/MASTER/DB)")
		}
		e.MasterName = parts[0]
		if len(parts) > 2 || len(parts) == 2 && parts[1] != "" {
			db, err := strconv.Atoi(parts[len(parts)-1])
			if len(parts) > 2 || err != nil || db < 0 {
				return RedisEndpoint{}, errors.New("invalid database number (want redis+sentinel://host:26379/MASTER/N)")
			}
			e.DB = db
		}
	case "cluster":
		e.Mode = RedisModeCluster
		if path != "" {
			return RedisEndpoint{}, errors.New("a Redis Cluster has only database 0: drop the path")
		}
	}
	return e, nil
}

// validate checks the redis section: one way of reaching Redis at most,
// each complete.
func (r Redis) validate(p *problems) {
	set := 0
	for _, b := range []bool{r.URL != "" || r.URLFile != "", r.sentinelSet(), r.clusterSet()} {
		if b {
			set++
		}
	}
	if set > 1 {
		p.add("redis", "set one of url (or url_file), sentinel and cluster")
	}
	if r.URL != "" {
		if _, err := parseRedisURL(r.URL.Reveal()); err != nil {
			p.add("redis.url", err.Error())
		}
	}
	if r.sentinelSet() {
		s := r.Sentinel
		if s.MasterName == "" {
			p.add("redis.sentinel.master_name", "required")
		}
		checkAddrs(p, "redis.sentinel.addrs", s.Addrs)
		if s.DB < 0 {
			p.add("redis.sentinel.db", "must not be negative")
		}
	}
	if r.clusterSet() {
		checkAddrs(p, "redis.cluster.addrs", r.Cluster.Addrs)
	}
	if r.KeyPrefix == "" {
		p.add("redis.key_prefix", "required")
	}
	positive(p, "redis.dial_timeout", r.DialTimeout)
	positive(p, "redis.timeout", r.Timeout)
}

func (r Redis) sentinelSet() bool {
	s := r.Sentinel
	return len(s.Addrs) > 0 || s.MasterName != "" || s.Password != "" || s.PasswordFile != "" ||
		s.SentinelPassword != "" || s.SentinelPasswordFile != "" || s.Username != "" || s.SentinelUsername != "" || s.DB != 0 || s.TLS
}

func (r Redis) clusterSet() bool {
	c := r.Cluster
	return len(c.Addrs) > 0 || c.Username != "" || c.Password != "" || c.PasswordFile != "" || c.TLS
}

// checkAddrs checks a required list of host:port addresses.
func checkAddrs(p *problems, path string, addrs []string) {
	if len(addrs) == 0 {
		p.add(path, "required: at least one host:port")
	}
	for i, a := range addrs {
		checkAddress(p, fmt.Sprintf("%s[%d]", path, i), a)
	}
}
