package config

import "net"

// validate checks the listener and the HTTP server's limits.
func (s Server) validate(p *problems) {
	if s.Listen == "" {
		p.add("server.listen", "required")
	} else {
		validateListen(p, "server.listen", s.Listen)
	}
	nonNegative(p, "server.cache_max_age", s.CacheMaxAge)
	// Zero would mean "no timeout" to net/http: a slow client could then
	// hold a connection, and a goroutine, for ever.
	positive(p, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(p, "server.read_timeout", s.ReadTimeout)
	positive(p, "server.write_timeout", s.WriteTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	// read_timeout covers the headers too, so a longer read_header_timeout
	// would never apply.
	if s.ReadHeaderTimeout > 0 && s.ReadTimeout > 0 && s.ReadHeaderTimeout > s.ReadTimeout {
		p.addf("server.read_header_timeout", "must not be more than read_timeout (%s)", s.ReadTimeout)
	}
	if s.DebugListen != "" {
		validateDebugListen(p, s.DebugListen)
	}
	if s.MaxHeaderBytes < minMaxHeaderBytes || s.MaxHeaderBytes > maxMaxHeaderBytes {
		p.addf("server.max_header_bytes", "must be between %d and %d", minMaxHeaderBytes, maxMaxHeaderBytes)
	}
}

// validateDebugListen keeps the profiler on loopback: it has no
// authentication, and its profiles show the config's secrets in memory.
// Reach it with kubectl port-forward or an SSH tunnel.
func validateDebugListen(p *problems, addr string) {
	host, ok := validateListen(p, "server.debug_listen", addr)
	if !ok {
		return
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		p.addf("server.debug_listen", "must be a loopback address (127.0.0.1:6060, [::1]:6060 or localhost:6060), not %q: the profiler has no authentication", addr)
	}
}

// validateListen checks a listen address host:port, the port a number
// from 0 (any free port) to 65535 or a service name, as net.Listen takes
// it: "localhost:99999" would otherwise pass and fail at start. It returns
// the host.
func validateListen(p *problems, key, addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.wrap(key, "", err)
		return "", false
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		p.addf(key, "invalid port %q (want 0-65535 or a service name)", port)
		return "", false
	}
	return host, true
}
