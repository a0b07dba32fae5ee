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

	for _, kdir := range []string{baseDir, overlayDir} {
		m := render(t, kdir)
		cfg := one(t, m.configMaps, "tocsin").Data["tocsin.yml"]
		// The Secret and ConfigMap mounts, under a temporary directory.
		etc := filepath.Join(t.TempDir(), "etc-tocsin")
		for _, p := range etcPaths(cfg) {
			f := filepath.Join(etc, strings.TrimPrefix(p, "/etc/tocsin/"))
			if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
				t.Fatal(err)
			}
			content := "example-secret-value\n"
			if strings.HasSuffix(p, "/redis/url") {
				content = "redis://:password@redis.example:6379/0\n"
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
