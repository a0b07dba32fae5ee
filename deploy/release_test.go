package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"sigs.k8s.io/yaml"
)

// The release: ../.goreleaser.yaml, run with the GoReleaser pinned as a Go
// tool in ../tools/goreleaser.mod (a module file of its own, so neither the
// daemon's go.mod nor this one carries GoReleaser's dependencies).

const goreleaserFile = ".goreleaser.yaml" // in the repository root

// goreleaserConfig is the part of .goreleaser.yaml the tests read.
type goreleaserConfig struct {
	Dist   string `json:"dist"`
	Builds []struct {
		ID     string   `json:"id"`
		Main   string   `json:"main"`
		Binary string   `json:"binary"`
		Env    []string `json:"env"`
		Goos   []string `json:"goos"`
		Goarch []string `json:"goarch"`
	} `json:"builds"`
	Checksum struct {
		Algorithm string `json:"algorithm"`
	} `json:"checksum"`
	DockersV2 []struct {
		IDs        []string `json:"ids"`
		Dockerfile string   `json:"dockerfile"`
		Images     []string `json:"images"`
		Platforms  []string `json:"platforms"`
	} `json:"dockers_v2"`
}

func readGoreleaser(t *testing.T) goreleaserConfig {
	t.Helper()
	var cfg goreleaserConfig
	if err := yaml.Unmarshal(readFile(t, filepath.Join(repoRoot(t), goreleaserFile)), &cfg); err != nil {
		t.Fatalf("%s: %v", goreleaserFile, err)
	}
	return cfg
}

// goreleaser runs the pinned GoReleaser in the repository root.
func goreleaser(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=tools/goreleaser.mod", "goreleaser"}, args...)...)
	cmd.Dir = repoRoot(t)
	// The target is this machine's, whatever the caller's environment says.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "GOOS=") || strings.HasPrefix(e, "GOARCH=") || strings.HasPrefix(e, "TARGET=")
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGoreleaser: `goreleaser check` passes, and a snapshot build of this
// machine's target gives a static binary that reports its version. The
// snapshot's dist directory is moved to a temporary one; nothing else in
// the config changes.
func TestGoreleaser(t *testing.T) {
	t.Parallel()
	goreleaser(t, "check")

	if cfg := readGoreleaser(t); cfg.Dist != "" {
		t.Fatalf("%s sets dist: %q; the test moves it", goreleaserFile, cfg.Dist)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "goreleaser.yaml")
	text := append(readFile(t, filepath.Join(repoRoot(t), goreleaserFile)), "\ndist: "+filepath.Join(dir, "dist")+"\n"...)
	if err := os.WriteFile(conf, text, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tocsin")
	goreleaser(t, "build", "--snapshot", "--single-target", "--clean", "--id", "tocsin", "--config", conf, "--output", bin)

	checkStatic(t, bin)
	// GoReleaser's snapshot version is stamped where `tocsin --version`
	// reads it (cmd/tocsin/version.go), so the -X targets exist.
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^tocsin [0-9]+\.[0-9]+\.[0-9]+-snapshot\+\S+ \(commit `).Match(out) {
		t.Errorf("tocsin --version = %q, %v; want the snapshot version GoReleaser stamped", out, err)
	}
	if data, err := os.ReadFile(bin); err != nil || bytes.Contains(data, []byte(repoRoot(t))) {
		t.Errorf("the binary holds the build directory %s (or cannot be read: %v): want -trimpath", repoRoot(t), err)
	}
}

// TestReleaseTargets: static binaries for linux and darwin on amd64 and
// arm64, SHA-256 checksums, and one multi-arch image from the release
// Dockerfile, which copies the built binary in.
func TestReleaseTargets(t *testing.T) {
	t.Parallel()
	cfg := readGoreleaser(t)
	if len(cfg.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if b.Main != "./cmd/tocsin" || b.Binary != "tocsin" || !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("build %+v: want ./cmd/tocsin as tocsin with CGO_ENABLED=0", b)
	}
	slices.Sort(b.Goos)
	slices.Sort(b.Goarch)
	if !slices.Equal(b.Goos, []string{"darwin", "linux"}) || !slices.Equal(b.Goarch, []string{"amd64", "arm64"}) {
		t.Errorf("build for %v on %v, want linux and darwin on amd64 and arm64", b.Goos, b.Goarch)
	}
	if cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum algorithm %q, want sha256", cfg.Checksum.Algorithm)
	}
	if len(cfg.DockersV2) != 1 {
		t.Fatalf("%d images, want 1", len(cfg.DockersV2))
	}
	img := cfg.DockersV2[0]
	slices.Sort(img.Platforms)
	if !slices.Equal(img.Platforms, []string{"linux/amd64", "linux/arm64"}) || !slices.Equal(img.IDs, []string{b.ID}) {
		t.Errorf("image of %v for %v, want the build %s for linux/amd64 and linux/arm64", img.IDs, img.Platforms, b.ID)
	}
	if img.Dockerfile != "deploy/"+releaseDockerfile {
		t.Fatalf("image Dockerfile %q, want deploy/%s", img.Dockerfile, releaseDockerfile)
	}
	st := stages(t, releaseDockerfile)
	if len(st) != 1 {
		t.Fatalf("%s: %d stages, want 1 (GoReleaser built the binary)", releaseDockerfile, len(st))
	}
	checkRunStage(t, releaseDockerfile, st[0], func(c *instructions.CopyCommand) bool {
		return c.From == "" && slices.Equal(c.SourcePaths, []string{"${TARGETPLATFORM}/" + b.Binary})
	})
	// Both Dockerfiles build the same image around the binary.
	if release, source := st[0].BaseName, stages(t, dockerfile)[len(stages(t, dockerfile))-1].BaseName; release != source {
		t.Errorf("%s is FROM %s, %s FROM %s: want one base", releaseDockerfile, release, dockerfile, source)
	}
}

// TestImageName: the image GoReleaser publishes (TOCSIN_IMAGE, by default
// ghcr.io/tocsin/tocsin) is the one the kustomize base and the Helm chart
// pull, at the same tag.
func TestImageName(t *testing.T) {
	t.Parallel()
	cfg := readGoreleaser(t)
	if len(cfg.DockersV2) != 1 || len(cfg.DockersV2[0].Images) != 1 {
		t.Fatalf("want one image name in %s", goreleaserFile)
	}
	m := regexp.MustCompile(`^\{\{ envOrDefault "TOCSIN_IMAGE" "([^"]+)" \}\}$`).FindStringSubmatch(cfg.DockersV2[0].Images[0])
	if m == nil {
		t.Fatalf("image %q: want {{ envOrDefault \"TOCSIN_IMAGE\" \"NAME\" }}, one configurable name", cfg.DockersV2[0].Images[0])
	}
	name := m[1]
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(readFile(t, chartDir+"/Chart.yaml"), &chart); err != nil {
		t.Fatal(err)
	}
	want := name + ":" + chart.AppVersion
	base := container(t, one(t, render(t, baseDir).deployments, "tocsin").Spec.Template.Spec, "tocsin").Image
	helm := container(t, renderChart(t, chartRender{}).deployments[0].Spec.Template.Spec, "tocsin").Image
	if base != want || helm != want {
		t.Errorf("kustomize base pulls %s, the chart %s; want %s (GoReleaser's name, the chart's appVersion)", base, helm, want)
	}
}
