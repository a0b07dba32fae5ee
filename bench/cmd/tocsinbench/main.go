// Command tocsinbench is the end-to-end benchmark of issue 14: it runs the
// real tocsin binary against a local HTTP target and a real redis-server at
// several numbers of checks, and in the same run a bare Go loop making the
// same requests, and writes a markdown table of what it measured.
//
// From the repository root:
//
//	go run ./bench/cmd/tocsinbench -out bench-run.md
//
// Defaults: 1,000, 10,000 and 50,000 checks; 30 s interval, 5 s timeout, one
// component per 10 checks, 90 s (three intervals) per size; about 10
// minutes in all. See docs/benchmarks.md for what each column means.
//
// It is a main package without tests: `go test ./...` builds it and runs
// nothing.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	sizes     []int
	interval  time.Duration
	timeout   time.Duration
	duration  time.Duration
	perComp   int
	bareRuns  int
	out       string
	keep      bool
	profile   bool
	tocsinBin string
	logLevel  string
	memLimit  int64 // bytes; 0: none
}

func main() {
	var (
		o        options
		sizes    string
		bare     bool
		bareBase string
		bareN    int
	)
	flag.StringVar(&sizes, "sizes", "1000,10000,50000", "comma-separated numbers of checks, one run each")
	flag.DurationVar(&o.interval, "interval", 30*time.Second, "every check's interval")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "every check's timeout")
	flag.DurationVar(&o.duration, "duration", 120*time.Second, "how long tocsin runs at each size, from its first planned probe: a whole number of intervals, at least 3 (start-up, steady, after the reload)")
	flag.IntVar(&o.perComp, "checks-per-component", 10, "checks per component")
	flag.IntVar(&o.bareRuns, "bare-runs", 1, "runs of each URL by the bare loop (one interval each)")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs, profiles)")
	flag.BoolVar(&o.profile, "profile", true, "take a CPU and heap profile of tocsin at each size where a target is missed")
	flag.StringVar(&o.tocsinBin, "tocsin", "", "use this tocsin binary instead of building ./cmd/tocsin (it needs server.debug_listen for profiles)")
	flag.StringVar(&o.logLevel, "log-level", "info", "tocsin's log.level")
	var memLimit string
	flag.StringVar(&memLimit, "memory-limit", "", "run tocsin in a memory cgroup of this size (e.g. 256Mi, as the shipped Deployment's limit), to see whether it carries each size; needs write access to /sys/fs/cgroup")
	flag.BoolVar(&bare, "bare", false, "internal: run as the bare loop")
	flag.StringVar(&bareBase, "bare-base", "", "internal: the bare loop's target")
	flag.IntVar(&bareN, "bare-n", 0, "internal: the bare loop's checks")
	flag.Parse()

	if bare {
		err := bareMain(bareArgs{Base: bareBase, N: bareN, Interval: o.interval, Timeout: o.timeout, Runs: o.bareRuns})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bare:", err)
			os.Exit(1)
		}
		return
	}
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "tocsinbench: bad size %q\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if memLimit != "" {
		v, err := parseBytes(memLimit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tocsinbench: -memory-limit:", err)
			os.Exit(2)
		}
		o.memLimit = v
	}
	if o.duration < 3*o.interval || o.duration%o.interval != 0 {
		fmt.Fprintln(os.Stderr, "tocsinbench: -duration must be a whole number of intervals, at least 3")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "tocsinbench:", err)
		stop()
		os.Exit(1)
	}
}

// parseBytes reads a size as Kubernetes writes one: bytes, or a number
// with Ki, Mi or Gi.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = v, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want bytes, or a whole number with Ki, Mi or Gi", s)
	}
	return n * mult, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (err error) {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "tocsinbench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			logf("kept %s", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	bin := o.tocsinBin
	if bin == "" {
		logf("building ./cmd/tocsin")
		bin = filepath.Join(tmp, "tocsin")
		if err := build(ctx, root, bin); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tg, err := startTarget()
	if err != nil {
		return err
	}
	defer tg.close()

	head := header(ctx, root, o)
	var results []*sizeResult
	var failed []string
	for _, n := range o.sizes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := runSize(ctx, o, n, bin, self, tg, filepath.Join(tmp, strconv.Itoa(n)))
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// The other sizes still run; the report says what failed.
			logf("%d checks: FAILED: %v", n, err)
			failed = append(failed, fmt.Sprintf("%d checks: %v", n, err))
			tg.take('t')
			tg.take('b')
			continue
		}
		results = append(results, r)
		logf("%d checks done", n)
	}
	report := head + renderReport(results, failed, time.Since(began))
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d sizes failed", len(failed), len(o.sizes))
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the tocsin module")
	}
	b, err := os.ReadFile(mod)
	if err != nil || !bytes.HasPrefix(b, []byte("module github.com/tocsin/tocsin\n")) {
		return "", errors.New("run from inside the tocsin module (github.com/tocsin/tocsin)")
	}
	return filepath.Dir(mod), nil
}

// build compiles ./cmd/tocsin as it is; its profiler is served through
// server.debug_listen (startDaemon).
func build(ctx context.Context, root, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tocsin")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func header(ctx context.Context, root string, o options) string {
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, _ := cmd.Output()
		return strings.TrimSpace(string(out))
	}
	rev := git("rev-parse", "--short", "HEAD")
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		rev += " (with uncommitted changes)"
	}
	load, _ := os.ReadFile("/proc/loadavg")
	var b strings.Builder
	fmt.Fprintf(&b, "## tocsinbench run, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- command: `go run ./bench/cmd/tocsinbench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "- tocsin: branch `%s`, commit %s\n", git("rev-parse", "--abbrev-ref", "HEAD"), rev)
	fmt.Fprintf(&b, "- machine: %d CPUs, %s, %s; load average at start %s\n", runtime.NumCPU(), runtime.Version(),
		runtime.GOOS+"/"+runtime.GOARCH, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(&b, "- setup: interval %s, timeout %s, %d checks per component, %s per size from the first planned probe, bare loop %d interval(s)\n\n",
		o.interval, o.timeout, o.perComp, o.duration, o.bareRuns)
	return b.String()
}

// writeConfig writes the generated config of n checks.
func writeConfig(path string, o options, n int, listen, redisAddr, targetAddr, pageName string) error {
	var b bytes.Buffer
	b.Grow(n * 130)
	fmt.Fprintf(&b, "server:\n  listen: %q\nredis:\n  url: %q\nlog:\n  level: %s\n  format: json\n",
		listen, "redis://"+redisAddr+"/0", o.logLevel)
	fmt.Fprintf(&b, "page:\n  name: %q\ndefaults:\n  interval: %s\n  timeout: %s\ncomponents:\n", pageName, o.interval, o.timeout)
	comps := (n + o.perComp - 1) / o.perComp
	for c := range comps {
		fmt.Fprintf(&b, "  - id: %s\n    name: Component %d\n", componentName(c), c)
	}
	b.WriteString("checks:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: %s\n    component: %s\n    type: http\n    http:\n      url: http://%s/t/%d\n",
			checkName(i), componentName(i/o.perComp), targetAddr, i)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func ms(d float64) string {
	if math.IsNaN(d) {
		return "—"
	}
	v := strconv.FormatFloat(d*1000, 'f', 0, 64)
	if v == "-0" {
		return "0"
	}
	return v
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// sleepUntil waits until t or ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// fetch GETs url into file, bounded by timeout.
func fetch(ctx context.Context, url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newGet(ctx, url)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
