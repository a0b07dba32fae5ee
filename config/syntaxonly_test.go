package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSyntaxOnly: with SyntaxOnly, files the config names that exist only
// where it runs (a pod's Secret) are neither read nor held against it, and
// every other problem is still found.
func TestSyntaxOnly(t *testing.T) {
	t.Parallel()
	const base = `
redis: {url_file: /run/secrets/absent/redis-url}
components: [{id: web, name: Web}]
checks:
  - name: home
    component: web
    type: http
    http:
      url: https://web.example/health
      bearer_token_file: /run/secrets/absent/token
      tls: {ca_file: /run/secrets/absent/ca.pem}
notify:
  - {name: ops, type: slack, url_file: /run/secrets/absent/slack}
`
	cfg := func(extra string) string {
		path := filepath.Join(t.TempDir(), "tocsin.yml")
		if err := os.WriteFile(path, []byte(base+extra), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if _, err := Load(LoadOptions{File: cfg("")}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("full load: %v, want the missing files", err)
	}
	c, err := Load(LoadOptions{File: cfg(""), SyntaxOnly: true})
	if err != nil {
		t.Fatalf("syntax only: %v", err)
	}
	want := []string{"redis.url_file", "redis.url", "checks[0].http.bearer_token_file", "checks[0].http.bearer_token",
		"checks[0].http.tls.ca_file", "notify[0].url_file", "notify[0].url"}
	if got := c.UnreadFiles(); !slices.Equal(got, want) {
		t.Errorf("UnreadFiles = %q, want %q", got, want)
	}
	_, err = Load(LoadOptions{File: cfg("page: {id: Bad Id}\n"), SyntaxOnly: true})
	if err == nil || !strings.Contains(err.Error(), `page.id: invalid id "Bad Id"`) || strings.Contains(err.Error(), "no such file") {
		t.Errorf("syntax only with another problem: %v", err)
	}
	if full := mustLoad(t, LoadOptions{File: filepath.Join("testdata", "valid-minimal.yml")}); full.UnreadFiles() != nil {
		t.Errorf("a full load has unread files: %q", full.UnreadFiles())
	}
}
