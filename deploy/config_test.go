package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigValidates: the config the manifests ship in the tocsin
// ConfigMap passes `tocsin validate`, run with the real binary built from
// this repository by the Dockerfile's build step, with the Secret files it
// names in place.
func TestExampleConfigValidates(t *testing.T) {
	t.Parallel()
	// The binary the image would hold (dockerfile_test.go).
	bin := imageBinary(t).bin

	for _, kdir := range []string{baseDir, overlayDir, sentinelDir} {
		m := render(t, kdir)
		cfg := one(t, m.configMaps, "tocsin").Data["tocsin.yml"]
		// The Redis URL of the Secret an overlay generates, else one the
		// user would create.
		redisURL := "redis://:password@redis.example:6379/0\n"
		for _, sec := range m.secrets {
			if strings.HasPrefix(sec.Name, "tocsin-redis") {
				redisURL = string(sec.Data["url"])
			}
		}
		// The Secret and ConfigMap mounts, under a temporary directory.
		etc := filepath.Join(t.TempDir(), "etc-tocsin")
		for _, p := range etcPaths(cfg) {
			f := filepath.Join(etc, strings.TrimPrefix(p, "/etc/tocsin/"))
			if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
				t.Fatal(err)
			}
			content := "example-secret-value\n"
			if strings.HasSuffix(p, "/redis/url") {
				content = redisURL
			}
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		file := filepath.Join(etc, "config", "tocsin.yml")
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(cfg, "/etc/tocsin/", etc+"/")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "valid (") {
			t.Errorf("%s: tocsin validate: %v\n%s", kdir, err, out)
		}
	}
}

// TestExampleConfigSyntaxOnly: the shipped ConfigMap's config passes
// `tocsin validate --syntax-only` as CI runs it, outside a pod: none of
// the Secret files it names exist, and none is needed.
func TestExampleConfigSyntaxOnly(t *testing.T) {
	t.Parallel()
	bin := imageBinary(t).bin
	for _, kdir := range []string{baseDir, overlayDir} {
		cfg := one(t, render(t, kdir).configMaps, "tocsin").Data["tocsin.yml"]
		if len(etcPaths(cfg)) == 0 {
			t.Fatalf("%s: the config names no files under /etc/tocsin; the test proves nothing", kdir)
		}
		// The paths moved under a directory that surely does not exist.
		dir := t.TempDir()
		file := filepath.Join(dir, "tocsin.yml")
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(cfg, "/etc/tocsin/", dir+"/absent/")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--syntax-only", "--config", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "valid (") || !strings.Contains(string(out), "files named, not read") {
			t.Errorf("%s: tocsin validate --syntax-only: %v\n%s", kdir, err, out)
		}
		// Without --syntax-only the same file fails on the missing files.
		cmd = exec.Command(bin, "validate", "--config", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no such file") {
			t.Errorf("%s: tocsin validate without --syntax-only: %v\n%s", kdir, err, out)
		}
	}
}
