package probe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/tocsin/tocsin/config"
)

// Shared is what the probers built from one config share instead of each
// holding a copy: parsed ca_files, TLS configs, and the request header of
// checks that set none. At 50,000 checks the copies were 60 MB of a
// replica's heap (issue 14). Build a new one per config load, so that a
// reload reads the files again. A nil *Shared shares nothing.
type Shared struct {
	mu      sync.Mutex
	byFile  map[string]caPool
	tls     map[config.TLS]*tls.Config
	headers map[string]http.Header
	dialers map[dialerKey]*net.Dialer
}

// dialerKey is what a prober's dialer is made of (NewDialer).
type dialerKey struct {
	resolver *net.Resolver
	source   string
}

type caPool struct {
	pool *x509.CertPool
	err  error
}

// NewShared returns an empty cache.
func NewShared() *Shared {
	return &Shared{byFile: map[string]caPool{}, tls: map[config.TLS]*tls.Config{}, headers: map[string]http.Header{},
		dialers: map[dialerKey]*net.Dialer{}}
}

// get returns the pool of the PEM certificates in file. Its errors name
// the file, not the key: the caller adds that.
func (p *Shared) caPool(file string) (*x509.CertPool, error) {
	if p == nil {
		return parseCAFile(file)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byFile[file]; ok {
		return e.pool, e.err
	}
	pool, err := parseCAFile(file)
	p.byFile[file] = caPool{pool, err}
	return pool, err
}

func parseCAFile(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}

// tlsConfig returns the one TLS config of block c made by build, for
// probers that read the clock with time.Now (tls.Config.Time nil). A
// prober clones it for each connection (HTTP.newClient) or only reads it.
func (p *Shared) tlsConfig(c config.TLS, build func() (*tls.Config, error)) (*tls.Config, error) {
	if p == nil {
		return build()
	}
	p.mu.Lock()
	cfg, ok := p.tls[c]
	p.mu.Unlock()
	if ok {
		return cfg, nil
	}
	cfg, err := build()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.tls[c]; ok {
		return prev, nil
	}
	p.tls[c] = cfg
	return cfg, nil
}

// userAgentHeader returns the one request header holding only User-Agent:
// agent, for HTTP checks that set no header of their own. Requests clone
// it (HTTP.request), so it is never written once shared.
func (p *Shared) userAgentHeader(agent string) http.Header {
	if p == nil {
		return http.Header{"User-Agent": {agent}}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.headers[agent]
	if !ok {
		h = http.Header{"User-Agent": {agent}}
		p.headers[agent] = h
	}
	return h
}

// dialer returns the one dialer made by build for resolver and source: a
// net.Dialer is settings only, never written once made, and one per check
// was 8.5 MB at 50,000 checks (docs/benchmarks.md).
func (p *Shared) dialer(resolver *net.Resolver, source net.IP, build func() *net.Dialer) *net.Dialer {
	if p == nil {
		return build()
	}
	k := dialerKey{resolver, source.String()}
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.dialers[k]
	if !ok {
		d = build()
		p.dialers[k] = d
	}
	return d
}
