package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file. Load must not
// panic, a config it accepts must validate, and no error may show the value
// of FUZZ_SECRET unless the input itself holds it; the file parses as
// yaml.Unmarshal parses it, and what the walker leaves decodes as it did
// through mapstructure.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"valid-full.yml", "valid-minimal.yml", "invalid-multiple.yml", "invalid-multiple-schema.yml", "invalid-multiple-stages.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const secret = "fuzz-secret-value"
	env := append([]string{"FUZZ_SECRET=" + secret, "TOCSIN_LOG__LEVEL=debug"}, fullEnv...)
	// Inputs run one at a time in each process, so they can share a file.
	path := filepath.Join(f.TempDir(), "tocsin.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sameAsUnmarshal(t, data)
		sameAsMapstructure(t, LoadOptions{File: path, Env: env})
		cfg, err := Load(LoadOptions{File: path, Env: env})
		if err != nil {
			if cfg != nil {
				t.Error("Load returned a config and an error")
			}
			if strings.Contains(err.Error(), secret) && !bytes.Contains(data, []byte(secret)) {
				t.Errorf("error shows a secret: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("loaded config does not validate: %v", err)
		}
	})
}
