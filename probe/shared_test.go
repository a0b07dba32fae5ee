package probe

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// TestSharedCAFileParsedOnce: the probers of one config that name one
// ca_file share its parsed pool; without a cache each parses its own; a
// bad file's error still names the check's key.
func TestSharedCAFileParsedOnce(t *testing.T) {
	t.Parallel()
	tc := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	build := func(cas *Shared, ca string) (*HTTP, error) {
		return NewHTTP(config.HTTPCheck{URL: "https://127.0.0.1:1/", TLS: config.TLS{CAFile: ca}}, Options{Shared: cas})
	}
	cas := NewShared()
	a, errA := build(cas, tc.PEMFile)
	b, errB := build(cas, tc.PEMFile)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.tlsConfig.RootCAs == nil || a.tlsConfig.RootCAs != b.tlsConfig.RootCAs {
		t.Error("two probers of one config parsed one ca_file twice")
	}
	c, err := build(nil, tc.PEMFile)
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

// TestSharedConfigsAreNeverWritten: probers of one config share the TLS
// config of a block and the header of checks that set none; a prober that
// must change its config (a TCP check's server name) changes a copy, and
// one with a clock of its own shares nothing.
func TestSharedConfigsAreNeverWritten(t *testing.T) {
	t.Parallel()
	sh := NewShared()
	httpCheck := func(o Options, headers map[string]config.Secret) *HTTP {
		h, err := NewHTTP(config.HTTPCheck{URL: "https://127.0.0.1:1/", Headers: headers}, o)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := httpCheck(Options{Shared: sh}, nil), httpCheck(Options{Shared: sh}, nil)
	if a.tlsConfig != b.tlsConfig {
		t.Error("two HTTP checks with the same tls block hold two configs")
	}
	if reflect.ValueOf(a.header).Pointer() != reflect.ValueOf(b.header).Pointer() || a.header.Get("User-Agent") != DefaultUserAgent {
		t.Errorf("headers not shared, or without the user agent: %v", a.header)
	}
	own := httpCheck(Options{Shared: sh}, map[string]config.Secret{"X-Probe": "1"})
	if own.header.Get("X-Probe") != "1" || own.header.Get("User-Agent") != DefaultUserAgent || b.header.Get("X-Probe") != "" {
		t.Errorf("a check's own header: %v; the shared one: %v", own.header, b.header)
	}
	clocked := httpCheck(Options{Shared: sh, Now: time.Now}, nil)
	if clocked.tlsConfig == a.tlsConfig || clocked.tlsConfig.Time == nil {
		t.Error("a prober with a clock of its own shares a config without it")
	}
	tcp, err := NewTCP(config.TCPCheck{Address: "db.test:5432", TLS: true}, Options{Shared: sh})
	if err != nil {
		t.Fatal(err)
	}
	if tcp.tlsConfig.ServerName != "db.test" || a.tlsConfig.ServerName != "" {
		t.Errorf("server names: tcp %q, shared %q", tcp.tlsConfig.ServerName, a.tlsConfig.ServerName)
	}
}
