package probe

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// TestCAPoolsShareOneParse: the probers of one config that name one
// ca_file share its parsed pool; without a cache each parses its own; a
// bad file's error still names the check's key.
func TestCAPoolsShareOneParse(t *testing.T) {
	t.Parallel()
	tc := newTestCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	build := func(cas *CAPools, ca string) (*HTTP, error) {
		return NewHTTP(config.HTTPCheck{URL: "https://127.0.0.1:1/", TLS: config.TLS{CAFile: ca}}, Options{CAs: cas})
	}
	cas := NewCAPools()
	a, errA := build(cas, tc.pemFile)
	b, errB := build(cas, tc.pemFile)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.tlsConfig.RootCAs == nil || a.tlsConfig.RootCAs != b.tlsConfig.RootCAs {
		t.Error("two probers of one config parsed one ca_file twice")
	}
	c, err := build(nil, tc.pemFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.tlsConfig.RootCAs == a.tlsConfig.RootCAs || !c.tlsConfig.RootCAs.Equal(a.tlsConfig.RootCAs) {
		t.Error("without a cache a prober should parse its own, equal pool")
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for range 2 { // the second from the cache
		if _, err := build(cas, missing); err == nil || !strings.HasPrefix(err.Error(), "http.tls.ca_file: ") {
			t.Errorf("missing ca_file: %v, want an error under http.tls.ca_file", err)
		}
	}
}
