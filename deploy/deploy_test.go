// Package deploy holds the tests of tocsin's deployment and release files:
// the Dockerfiles, the Kubernetes manifests (kustomize), the Helm chart,
// the GoReleaser config and the Prometheus rules and dashboard. It is a Go
// module of its own, so that the daemon never links Kubernetes libraries;
// it has no code besides these tests.
//
//	cd deploy && go test ./...
//
// Every check runs offline but TestGoreleaser's first run, which fetches
// GoReleaser's modules through the Go module proxy and builds it (a few
// minutes). promtool must be installed (Debian's prometheus
// package; ../scripts/test installs it): a test that needs it fails, never
// skips, when it is missing.
package deploy

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// update regenerates the files derived from others (the PrometheusRule from
// the rules file) instead of comparing them.
var update = flag.Bool("update", false, "rewrite generated files (kubernetes/base/prometheusrule.yaml, helm/tocsin/files/tocsin-rules.yml)")

const (
	rulesFile     = "prometheus/tocsin-rules.yml"
	rulesTestFile = "prometheus/tocsin-rules_test.yml"
	dashboardFile = "prometheus/tocsin-dashboard.json"
	baseDir       = "kubernetes/base"
	overlayDir    = "kubernetes/overlays/redis"
	sentinelDir   = "kubernetes/overlays/sentinel"
	runbookFile   = "../docs/kubernetes.md"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// promtool finds promtool on $PATH or where Debian puts it.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		return "/usr/bin/promtool"
	}
	t.Fatal("promtool is not installed: apt-get install -y prometheus (../scripts/test does), then run the tests again")
	return ""
}

// repoRoot is the tocsin repository this module sits in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "tocsin")); err != nil {
		t.Fatalf("deploy/ is not inside the tocsin repository: %v", err)
	}
	return root
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
