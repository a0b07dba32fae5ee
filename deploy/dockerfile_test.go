package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
)

// There is no Docker engine on the machines that run these tests, so the
// image is never built here. Instead: BuildKit's own Dockerfile checks run
// on it (what `docker build --check` runs), its structure is asserted, and
// its go build step runs on a copy of the build context the ignore file
// leaves.

const (
	dockerfile        = "Dockerfile"
	releaseDockerfile = "release.Dockerfile" // GoReleaser's (../.goreleaser.yaml)
	dockerignoreFile  = "Dockerfile.dockerignore"
)

// offlineResolver answers BuildKit's base-image lookups with an empty
// linux image, so the checks never reach a registry.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := `{"architecture":"` + runtime.GOARCH + `","os":"linux","config":{"Env":["PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"]},"rootfs":{"type":"layers"}}`
	return ref, digest.FromString(ref), []byte(cfg), nil
}

// TestDockerfileLint runs BuildKit's build checks, experimental ones too,
// on both Dockerfiles and fails on any warning.
func TestDockerfileLint(t *testing.T) {
	t.Parallel()
	for _, dockerfile := range []string{dockerfile, releaseDockerfile} {
		lintDockerfile(t, dockerfile)
	}
}

func lintDockerfile(t *testing.T, dockerfile string) {
	t.Helper()
	dt := readFile(t, dockerfile)
	sm := llb.NewSourceMap(nil, dockerfile, "Dockerfile", dt)
	sm.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{},
		SourceMap:    sm,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		line := 0
		if len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		t.Errorf("%s:%d: %s: %s (%s)", dockerfile, line, w.RuleName, w.Detail, w.URL)
	}
	if res.Error != nil {
		t.Errorf("%s: %s", dockerfile, res.Error.Message)
	}
	// The file asks `docker build` itself to fail on these warnings.
	if check, _, _, _ := parser.ParseDirective("check", dt); !strings.Contains(check, "error=true") {
		t.Errorf("%s: want a `# check=error=true` directive, got %q", dockerfile, check)
	}
}

// stages parses a Dockerfile into its build stages.
func stages(t *testing.T, dockerfile string) []instructions.Stage {
	t.Helper()
	ast, err := parser.Parse(bytes.NewReader(readFile(t, dockerfile)))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDockerfilePolicy asserts the points of the image: multi-stage; a
// static, trimmed, version-stamped binary; a distroless/static base with a
// non-root user; no shell needed at run time; the port and config path the
// manifests use.
func TestDockerfilePolicy(t *testing.T) {
	t.Parallel()
	st := stages(t, dockerfile)
	if len(st) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(st))
	}
	build, final := st[0], st[len(st)-1]
	run, err := buildCommand()
	if err != nil {
		t.Fatal(err)
	}
	// Whether the -X targets exist, which go build does not check, the
	// built binary's "tocsin version" says (TestDockerfileBuildStep).
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X github.com/prometheus/common/version.Version=${VERSION}",
		"-X github.com/prometheus/common/version.Revision=${COMMIT}", "./cmd/tocsin"} {
		if !strings.Contains(run, want) {
			t.Errorf("build stage: go build %q lacks %q", run, want)
		}
	}

	checkRunStage(t, dockerfile, final, func(c *instructions.CopyCommand) bool { return c.From == build.Name })
}

// checkRunStage asserts the points of the image's last stage, the same in
// both Dockerfiles: a distroless/static base with a non-root numeric user;
// nothing run (no shell); only the binary copied in, by copyOK's rule; the
// exec-form entrypoint; the port and the command the manifests use.
func checkRunStage(t *testing.T, dockerfile string, final instructions.Stage, copyOK func(*instructions.CopyCommand) bool) {
	t.Helper()
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(final.BaseName, ":nonroot") {
		t.Errorf("%s: run stage FROM %s, want gcr.io/distroless/static...:nonroot", dockerfile, final.BaseName)
	}
	var user, entry string
	var entryJSON bool
	var copied []string
	var exposed []string
	var cmd []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand, *instructions.ShellCommand:
			t.Errorf("%s: run stage: %s: the run stage only copies the binary in (it has no shell)", dockerfile, c.Name())
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry, entryJSON = strings.Join(c.CmdLine, " "), !c.PrependShell
		case *instructions.CmdCommand:
			cmd = c.CmdLine
			if c.PrependShell {
				t.Errorf("%s: run stage: CMD in shell form needs a shell", dockerfile)
			}
		case *instructions.CopyCommand:
			if !copyOK(c) {
				t.Errorf("%s: run stage: COPY %v from %q: not the built binary", dockerfile, c.SourcePaths, c.From)
			}
			copied = append(copied, c.DestPath)
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" || !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) {
		t.Errorf("%s: run stage: USER %q, want a numeric non-root UID (so runAsNonRoot can verify it)", dockerfile, user)
	}
	if !entryJSON || !slices.Contains(copied, entry) {
		t.Errorf("%s: run stage: ENTRYPOINT %q (exec form %v), want the exec form of the copied binary %v", dockerfile, entry, entryJSON, copied)
	}
	if !slices.Contains(exposed, "8080/tcp") && !slices.Contains(exposed, "8080") {
		t.Errorf("%s: run stage: EXPOSE %v, want 8080 (server.listen)", dockerfile, exposed)
	}
	// The image's default command is what the Deployment runs.
	d := one(t, render(t, baseDir).deployments, "tocsin")
	if args := container(t, d.Spec.Template.Spec, "tocsin").Args; !slices.Equal(cmd, args) {
		t.Errorf("%s: CMD %q, Deployment args %q: want the same", dockerfile, cmd, args)
	}
}

// buildCommand returns the build stage's RUN line that runs go build.
func buildCommand() (string, error) {
	dt, err := os.ReadFile(dockerfile)
	if err != nil {
		return "", err
	}
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return "", err
	}
	st, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return "", err
	}
	for _, c := range st[0].Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			if !r.PrependShell || len(r.CmdLine) != 1 {
				return "", fmt.Errorf("build stage: want go build in one shell-form RUN, got %q", r.CmdLine)
			}
			return r.CmdLine[0], nil
		}
	}
	return "", errors.New("build stage: no RUN with go build")
}

// TestDockerfileBuildStep runs the build stage's go build line, as the
// image build would, in a copy of the repository reduced by
// Dockerfile.dockerignore, and checks the binary: static, stamped, trimmed.
func TestDockerfileBuildStep(t *testing.T) {
	t.Parallel()
	img := imageBinary(t)
	checkStatic(t, img.bin)

	v, err := exec.Command(img.bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "tocsin v9.8.7-test (commit 0123456789abcdef,") {
		t.Errorf("tocsin version = %q, %v; want the stamped version and commit", v, err)
	}
	data, err := os.ReadFile(img.bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(img.context)) {
		t.Errorf("binary holds the build directory %s: want -trimpath", img.context)
	}
}

// checkStatic: the binary needs no dynamic loader and no libc, which
// distroless/static does not have.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%s): distroless/static has no libc", bin, p.Type)
		}
	}
}

// builtImage is the result of the Dockerfile's build step.
type builtImage struct {
	bin     string // the tocsin binary
	context string // where it was built
	err     error
}

var (
	buildOnce sync.Once
	built     builtImage
	buildDir  string // removed by TestMain
)

// imageBinary runs the Dockerfile's go build line once per test binary, in
// a copy of the build context, and returns the binary it made.
func imageBinary(t *testing.T) builtImage {
	t.Helper()
	buildOnce.Do(func() { built = buildImageBinary(t) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built
}

func buildImageBinary(t *testing.T) builtImage {
	root := repoRoot(t)
	// Not t.TempDir: other tests use the binary after this one ends;
	// TestMain removes it.
	dir, err := os.MkdirTemp("", "tocsin-deploy-")
	if err != nil {
		return builtImage{err: err}
	}
	buildDir = dir
	img := builtImage{bin: filepath.Join(dir, "out", "tocsin"), context: filepath.Join(dir, "context")}
	if err := copyContext(root, img.context); err != nil {
		img.err = err
		return img
	}
	run, err := buildCommand()
	if err != nil {
		img.err = err
		return img
	}
	run = strings.ReplaceAll(run, "/out/", filepath.Join(dir, "out")+"/")
	sh := exec.Command("/bin/sh", "-c", run)
	sh.Dir = img.context
	sh.Env = append(os.Environ(),
		"TARGETOS=linux", "TARGETARCH="+runtime.GOARCH,
		"VERSION=v9.8.7-test", "COMMIT=0123456789abcdef",
	)
	if b, err := sh.CombinedOutput(); err != nil {
		img.err = fmt.Errorf("build step %q: %w\n%s", run, err, b)
	}
	return img
}

// copyContext copies what `docker build` would send as the context: the
// repository minus what Dockerfile.dockerignore excludes.
func copyContext(root, dst string) error {
	f, err := os.Open(dockerignoreFile)
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd/tocsin/main.go", "status/page.html.tmpl", "redisstore/observe.lua"} {
		if ex, _ := pm.MatchesOrParentMatches(need); ex {
			return fmt.Errorf("%s excludes %s, which the build needs", dockerignoreFile, need)
		}
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		if ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); err != nil || ex {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}
