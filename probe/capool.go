package probe

import (
	"crypto/x509"
	"fmt"
	"os"
	"sync"
)

// CAPools reads and parses each ca_file once for the probers built from
// one config: 50,000 checks naming one CA bundle would otherwise hold
// 50,000 parsed copies of it. Build a new one per config load, so that a
// reload reads the files again. A nil *CAPools parses every time.
type CAPools struct {
	mu     sync.Mutex
	byFile map[string]caPool
}

type caPool struct {
	pool *x509.CertPool
	err  error
}

// NewCAPools returns an empty cache.
func NewCAPools() *CAPools { return &CAPools{byFile: map[string]caPool{}} }

// get returns the pool of the PEM certificates in file. Its errors name
// the file, not the key: the caller adds that.
func (p *CAPools) get(file string) (*x509.CertPool, error) {
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
