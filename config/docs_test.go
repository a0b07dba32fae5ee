package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsCompleteExample loads the "Complete example" of
// docs/configuration.md, with its secret files and CA made up in a
// temporary directory: the reference's example must stay a valid config.
func TestDocsCompleteExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Complete example")
	if !ok {
		t.Fatal(`docs/configuration.md has no "## Complete example"`)
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the complete example has no closed yaml block")
	}
	dir := t.TempDir()
	example = strings.ReplaceAll(example, "/etc/tocsin/", dir+"/")
	for _, m := range regexp.MustCompile(regexp.QuoteMeta(dir)+`/[^\s"'}]+`).FindAllString(example, -1) {
		content := "made-up-secret-value\n"
		switch {
		case strings.HasSuffix(m, ".pem"):
			ca, err := os.ReadFile("testdata/ca.pem")
			if err != nil {
				t.Fatal(err)
			}
			content = string(ca)
		case strings.Contains(m, "redis-url"):
			content = "redis://:pass@127.0.0.1:6379/0\n"
		}
		if err := os.MkdirAll(filepath.Dir(m), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(m, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "tocsin.yml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllStringSubmatch(example, -1) {
		env = append(env, m[1]+"=made-up")
	}
	if _, err := Load(LoadOptions{File: path, Env: env}); err != nil {
		t.Errorf("the documented complete example does not load:\n%v", err)
	}
}
