package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsExamples loads the config examples of the README and of
// docs/configuration.md ("Complete example", "vantages") and
// docs/notifications.md, with their secret files and
// CA made up in a temporary directory: what people copy must stay valid.
func TestDocsExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, heading string }{
		{"../README.md", "## A config"},
		{"../docs/configuration.md", "## Complete example"},
		{"../docs/configuration.md", "## `vantages`"},
		{"../docs/notifications.md", "# Notifications"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			loadDocExample(t, tc.file, tc.heading)
		})
	}
}

// loadDocExample loads the first yaml block after heading in file.
func loadDocExample(t *testing.T, file, heading string) {
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), heading)
	if !ok {
		t.Fatalf("%s has no %q", file, heading)
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s: no closed yaml block after %q", file, heading)
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
		case strings.HasSuffix(m, "-url"):
			content = "https://hooks.example/made-up-token-0123456789\n"
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
		t.Errorf("the example in %s does not load:\n%v", file, err)
	}
}
