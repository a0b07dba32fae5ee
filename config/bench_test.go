package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoad50k loads and validates a config of 50,000 HTTP checks
// over 5,000 components, as a replica does at start-up and at each reload
// (issue 14: under 2 s).
func BenchmarkLoad50k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("components:\n")
	for i := range 5000 {
		fmt.Fprintf(&sb, "  - {id: c%d, name: Component %d}\n", i, i)
	}
	sb.WriteString("checks:\n")
	for i := range 50000 {
		fmt.Fprintf(&sb, "  - {name: k%d, component: c%d, type: http, interval: 30s, timeout: 5s, http: {url: \"http://127.0.0.1:8080/t/%d\"}}\n",
			i, i/10, i)
	}
	file := filepath.Join(b.TempDir(), "tocsin.yml")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Load(LoadOptions{File: file})
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Checks) != 50000 {
			b.Fatalf("%d checks", len(cfg.Checks))
		}
	}
}
