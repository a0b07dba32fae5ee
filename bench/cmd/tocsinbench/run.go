package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/testport"
)

var httpClient = &http.Client{Timeout: 60 * time.Second}

func newGet(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
}

// sizeResult is everything measured at one number of checks.
type sizeResult struct {
	n        int
	planned  float64 // probes/s
	achieved float64 // probes/s in the steady interval
	hits     hitStats

	steadyProbes int
	steadyCPU    float64 // CPU-s of tocsin in the steady interval
	redisRT      float64 // round trips per probe result (steady interval)
	redisCmds    float64 // commands per probe result (steady interval)

	bare     bareRun
	bareHits hitStats // the bare loop's hits at the target

	peakKiB       int64 // VmHWM before the scrapes
	peakSteadyKiB int64 // VmHWM just before the reload: start-up and steady probing
	peakScrapeKiB int64 // VmHWM after them
	endKiB        int64
	heapMiB       float64
	gor           float64

	series     int
	scrapeTook time.Duration // median of 3
	scrapeMax  time.Duration
	scrapeMiB  float64
	lagP50     float64 // from tocsin_scheduler_lag_seconds, since start
	lagP99     float64
	results    float64 // probe results tocsin counted since start
	notUp      float64 // of which not up

	validate      time.Duration
	startup       time.Duration // process start → /readyz 200
	firstProbe    time.Duration // process start → first hit
	allFirst      time.Duration // process start → last check's first hit
	reload        time.Duration // SIGHUP → "config reloaded" logged
	reloadOK      bool
	afterReloadPS float64 // probes/s in the interval after the reload

	profiles string   // pprof -top text, when a target was missed
	notes    []string // what went wrong while measuring
	families map[string]int
	load     string // /proc/loadavg's 1-minute average at the end
	missed   []string
	memLimit int64 // the cgroup's limit in bytes (-memory-limit); 0: none
}

func (r *sizeResult) cpuPer1k() float64 {
	if r.steadyProbes == 0 {
		return 0
	}
	return r.steadyCPU / float64(r.steadyProbes) * 1000
}

func (r *sizeResult) bareCPUPer1k() float64 {
	if r.bare.res.Probes == 0 {
		return 0
	}
	return r.bare.cpu / float64(r.bare.res.Probes) * 1000
}

// sampler reads tocsin's /proc files, the proxy's counters and Redis'
// commandstats every 500 ms.
type sampler struct {
	mu      sync.Mutex
	samples []procSample
}

func (s *sampler) run(ctx context.Context, pid int, px *countingProxy, rc *redis.Client) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		s.take(ctx, pid, px, rc)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sampler) take(ctx context.Context, pid int, px *countingProxy, rc *redis.Client) {
	cpu, rss, hwm, err := readProc(pid)
	if err != nil {
		return
	}
	cmds, _ := commands(ctx, rc)
	s.mu.Lock()
	s.samples = append(s.samples, procSample{at: time.Now(), cpu: cpu, rssKiB: rss, hwmKiB: hwm,
		redisBursts: px.bursts.Load(), redisCmds: cmds})
	s.mu.Unlock()
}

// at interpolates the cumulative counters at t.
func (s *sampler) at(t time.Time) procSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev procSample
	for _, x := range s.samples {
		if !x.at.Before(t) {
			if prev.at.IsZero() {
				return x
			}
			f := float64(t.Sub(prev.at)) / float64(x.at.Sub(prev.at))
			lerp := func(a, b float64) float64 { return a + (b-a)*f }
			return procSample{at: t, cpu: lerp(prev.cpu, x.cpu),
				redisBursts: int64(lerp(float64(prev.redisBursts), float64(x.redisBursts))),
				redisCmds:   int64(lerp(float64(prev.redisCmds), float64(x.redisCmds)))}
		}
		prev = x
	}
	return prev
}

func (s *sampler) last() procSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return procSample{}
	}
	return s.samples[len(s.samples)-1]
}

// daemon is the running tocsin child.
type daemon struct {
	cmd      *exec.Cmd
	done     chan struct{}
	reloaded chan string // "ok" or the rejection message, per reload
}

func startDaemon(bin, config, logFile, pprofAddr string, cg *memCgroup) (*daemon, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	argv := []string{bin, "run", "--config", config}
	if cg != nil {
		argv = cg.wrap(argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "TOCSIN_SERVER__DEBUG_LISTEN="+pprofAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = lf
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = lf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan struct{}), reloaded: make(chan string, 8)}
	go func() {
		defer lf.Close()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = io.WriteString(lf, line+"\n")
			switch {
			case strings.Contains(line, `"msg":"config reloaded"`):
				d.reloaded <- "ok"
			case strings.Contains(line, `"msg":"config reload`):
				d.reloaded <- line
			}
		}
		_ = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and kills after 15 s.
func (d *daemon) stop() {
	if d == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func waitFor(ctx context.Context, timeout, poll time.Duration, what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := ok()
		if done {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, timeout)
		}
		if err := sleepUntil(ctx, time.Now().Add(poll)); err != nil {
			return err
		}
	}
}

// runSize runs the bare loop and then tocsin at n checks.
func runSize(ctx context.Context, o options, n int, bin, self string, tg *target, dir string) (res *sizeResult, err error) {
	res = &sizeResult{n: n, planned: float64(n) / o.interval.Seconds()}
	defer func() {
		if err != nil {
			if t := tail(filepath.Join(dir, "tocsin.log"), 10); t != "" {
				err = fmt.Errorf("%w\nlast lines of tocsin's log:\n%s", err, t)
			}
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}

	// The bare loop first, alone on the machine.
	logf("%d checks: bare loop, %d interval(s) at %.0f probes/s", n, o.bareRuns, res.planned)
	res.bare, err = runBare(ctx, self, bareArgs{Base: "http://" + tg.addr(), N: n, Interval: o.interval,
		Timeout: o.timeout, Runs: o.bareRuns})
	if err != nil {
		return nil, err
	}
	res.bareHits = analyse(tg.take('b'), n, o.interval, time.Time{}, time.Time{})
	logf("%d checks: bare loop %d probes, %d errors, %.2f CPU-s", n, res.bare.res.Probes, res.bare.res.Errors, res.bare.cpu)

	rs, err := startRedis(filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	px, err := startProxy(rs.addr)
	if err != nil {
		return nil, err
	}
	defer px.close()
	rc := redis.NewClient(&redis.Options{Addr: rs.addr, DialTimeout: time.Second, ReadTimeout: 5 * time.Second,
		DisableIdentity: true})
	defer rc.Close()
	ports, err := testport.Free(2)
	if err != nil {
		return nil, err
	}
	listen := testport.HostPort(ports[0])
	pprofAddr := testport.HostPort(ports[1])
	base := "http://" + listen

	// The daemon reads conf/tocsin.yml, a symlink to data/tocsin.yml: the
	// reload rewrites data/tocsin.yml, which tocsin's file watcher (on
	// conf/) does not see, so SIGHUP alone triggers it.
	dataFile := filepath.Join(dir, "data", "tocsin.yml")
	conf := filepath.Join(dir, "conf", "tocsin.yml")
	if err := writeConfig(dataFile, o, n, listen, px.addr(), tg.addr(), "Bench"); err != nil {
		return nil, err
	}
	if err := os.Symlink(dataFile, conf); err != nil {
		return nil, err
	}

	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	start := time.Now()
	out, err := exec.CommandContext(vctx, bin, "validate", "--config", conf).CombinedOutput()
	res.validate = time.Since(start)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tocsin validate: %w\n%s", err, out)
	}

	logf("%d checks: starting tocsin (validate took %s)", n, res.validate.Round(time.Millisecond))
	tg.take('t')
	start = time.Now()
	var cg *memCgroup
	if o.memLimit > 0 {
		if cg, err = newMemCgroup(o.memLimit); err != nil {
			return nil, err
		}
		res.memLimit = o.memLimit
		defer func() {
			if n, kerr := cg.oomKills(); kerr == nil && n > 0 {
				err = errors.Join(err, fmt.Errorf("tocsin was OOM-killed under -memory-limit %d MiB", o.memLimit>>20))
			}
			_ = cg.remove() // runs after d.stop: nothing is left in it
		}()
	}
	d, err := startDaemon(bin, conf, filepath.Join(dir, "tocsin.log"), pprofAddr, cg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	smp := &sampler{}
	go smp.run(sctx, d.pid(), px, rc)

	err = waitFor(ctx, 3*time.Minute, 20*time.Millisecond, "/readyz", func() (bool, error) {
		if d.exited() {
			return false, errors.New("tocsin exited; see " + filepath.Join(dir, "tocsin.log"))
		}
		req, _ := newGet(ctx, base+"/readyz")
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return nil, err
	}
	res.startup = time.Since(start)
	err = waitFor(ctx, o.interval+2*time.Minute, 20*time.Millisecond, "first probe", func() (bool, error) {
		return tg.count('t') > 0, nil
	})
	if err != nil {
		return nil, err
	}
	first := tg.snapshot('t')[0].at
	res.firstProbe = time.Unix(0, first).Sub(start)
	logf("%d checks: ready after %s, first probe after %s", n, res.startup.Round(time.Millisecond), res.firstProbe.Round(time.Millisecond))

	// A CPU profile of the steady window, in the background: from half an
	// interval after the first probe for one interval less a second. The
	// plan's origin is at most the first probe, so it ends before the
	// reload unless the origin is more than a second earlier. Reported
	// only where a target is missed; the profiler's own cost (SIGPROF at
	// 100 Hz) is in the window's CPU time.
	cpuProf := filepath.Join(dir, "cpu.pprof")
	profDone := make(chan error, 1)
	if o.profile {
		secs := int((o.interval - time.Second).Seconds())
		go func() {
			if err := sleepUntil(ctx, time.Unix(0, first).Add(o.interval/2)); err != nil {
				profDone <- err
				return
			}
			profDone <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), cpuProf,
				time.Duration(secs+30)*time.Second)
		}()
	} else {
		profDone <- errors.New("off")
	}

	// After the first interval the plan's origin is known.
	if err := sleepUntil(ctx, time.Unix(0, first).Add(o.interval+time.Second)); err != nil {
		return nil, err
	}
	st0 := analyse(tg.snapshot('t'), n, o.interval, time.Time{}, time.Time{})
	t0 := st0.t0
	// Windows start and end half an interval off the plan, so that checks
	// planned all at once fall well inside them: the steady window is from
	// half an interval after the origin to the reload, which is 1.5
	// intervals before the end.
	reloadAt := t0.Add(o.duration - o.interval*3/2)
	end := t0.Add(o.duration + time.Second)
	logf("%d checks: plan %q, origin %s after start; reload at +%s, end at +%s", n, st0.plan,
		t0.Sub(start).Round(time.Millisecond), reloadAt.Sub(start).Round(time.Second), end.Sub(start).Round(time.Second))

	if err := sleepUntil(ctx, reloadAt); err != nil {
		return nil, err
	}
	// Reload: the same checks, another page name.
	if err := writeConfig(dataFile, o, n, listen, px.addr(), tg.addr(), "Bench reloaded"); err != nil {
		return nil, err
	}
	// A CPU profile of the reload (and of the seconds after it), once the
	// steady window's profile is done: only one runs at a time.
	cpuErr := <-profDone
	if cpuErr != nil {
		cpuProf = ""
	}
	reloadProf := filepath.Join(dir, "reload.pprof")
	reloadDone := make(chan error, 1)
	if o.profile {
		go func() {
			reloadDone <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, reloadProfSecs),
				reloadProf, (reloadProfSecs+30)*time.Second)
		}()
		time.Sleep(200 * time.Millisecond) // the profile has started
	} else {
		reloadDone <- errors.New("off")
	}
	smp.take(ctx, d.pid(), px, rc)
	res.peakSteadyKiB = smp.last().hwmKiB
	sig := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return nil, err
	}
	select {
	case msg := <-d.reloaded:
		res.reload = time.Since(sig)
		res.reloadOK = msg == "ok"
		if !res.reloadOK {
			logf("%d checks: reload failed: %s", n, msg)
		}
	case <-time.After(2 * time.Minute):
		res.reload = 2 * time.Minute
		res.notes = append(res.notes, "no reload logged within 2 minutes of SIGHUP")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	logf("%d checks: reload took %s", n, res.reload.Round(time.Millisecond))

	if err := sleepUntil(ctx, end); err != nil {
		return nil, err
	}
	reloadErr := <-reloadDone
	if reloadErr != nil {
		reloadProf = ""
	}
	smp.take(ctx, d.pid(), px, rc)
	stopSampler()
	last := smp.last()
	res.peakKiB, res.endKiB = last.hwmKiB, last.rssKiB

	// Up to 3 scrapes, fewer when they are slow.
	var took []time.Duration
	for i := 0; i < 3 && (i == 0 || time.Duration(i)*took[0] < 10*time.Second); i++ {
		sc, err := scrapeMetrics(ctx, base)
		if err != nil {
			res.notes = append(res.notes, fmt.Sprintf("scrape %d of /metrics failed: %v", i+1, err))
			break
		}
		took = append(took, sc.took)
		if i == 0 {
			res.series, res.scrapeMiB = sc.series, float64(sc.bytes)/(1<<20)
			res.lagP50, res.lagP99 = histQuantile(0.5, sc.lag), histQuantile(0.99, sc.lag)
			res.results, res.notUp, res.heapMiB, res.gor = sc.results, sc.notUp, sc.heapB/(1<<20), sc.gor
			res.families = sc.families
		}
	}
	if _, _, hwm, err := readProc(d.pid()); err == nil {
		res.peakScrapeKiB = hwm
	}
	res.scrapeTook, res.scrapeMax = median(took), slicesMax(took)
	if len(took) == 0 {
		res.scrapeTook, res.scrapeMax = 2*time.Minute, 2*time.Minute // failed: not met
	}

	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.load = strings.Fields(string(la))[0]
	}
	hits := tg.snapshot('t')
	res.hits = analyse(hits, n, o.interval, sig, sig.Add(-o.interval))
	if p50 := quantile(res.hits.lagFirst, 0.5); p50 > 1 {
		res.notes = append(res.notes, fmt.Sprintf("the first interval's median lag against the plan (%q) is %.1f s: "+
			"either the scheduler is that late, or it plans first runs in a way the harness does not know "+
			"(update spread in bench/cmd/tocsinbench/target.go)", res.hits.plan, p50))
	}
	res.allFirst = res.hits.lastFirstHit.Sub(start)
	// A scheduler that spreads first runs is still in its first interval
	// half an interval after the origin: every check's first result (and
	// its component's first status, a page render each) would count as
	// steady. Its steady window starts once every check has run.
	from, to := t0.Add(o.interval/2), reloadAt
	if res.hits.plan == "spread" {
		from = t0.Add(o.interval + o.interval/10)
	}
	res.steadyProbes = hitsBetween(hits, from, to)
	res.achieved = float64(res.steadyProbes) / to.Sub(from).Seconds()
	a, b := smp.at(from), smp.at(to)
	res.steadyCPU = b.cpu - a.cpu
	if res.steadyProbes > 0 {
		res.redisRT = float64(b.redisBursts-a.redisBursts) / float64(res.steadyProbes)
		res.redisCmds = float64(b.redisCmds-a.redisCmds) / float64(res.steadyProbes)
	}
	res.afterReloadPS = float64(res.hits.postReload) / o.interval.Seconds()
	res.missed = missedTargets(res)
	logf("%d checks: %.0f/%.0f probes/s, %.3f CPU-s/1k probes (bare %.3f), peak RSS %.0f MiB, %d series, scrape %s",
		n, res.achieved, res.planned, res.cpuPer1k(), res.bareCPUPer1k(), float64(res.peakKiB)/1024, res.series,
		res.scrapeTook.Round(time.Millisecond))

	if len(res.missed) > 0 && o.profile {
		logf("%d checks: missed %s; profiling", n, strings.Join(res.missed, ", "))
		res.profiles = profile(ctx, bin, "http://"+pprofAddr, dir, cpuProf, cpuErr, reloadProf, reloadErr)
	}
	d.stop()
	tg.take('t')
	return res, nil
}

// tail returns the last n lines of file, "" if it cannot be read.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// reloadProfSecs is the length of the CPU profile taken across the reload.
const reloadProfSecs = 10

func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// profile takes a heap profile of the running daemon and returns the top
// of it and of the CPU profile taken after the reload.
func profile(ctx context.Context, bin, base, dir, cpu string, cpuErr error, reload string, reloadErr error) string {
	var b strings.Builder
	heap := filepath.Join(dir, "heap.pprof")
	if cpuErr != nil {
		fmt.Fprintf(&b, "CPU profile failed: %v\n", cpuErr)
	}
	if reloadErr != nil {
		fmt.Fprintf(&b, "reload CPU profile failed: %v\n", reloadErr)
	}
	if err := fetch(ctx, base+"/debug/pprof/heap", heap, 30*time.Second); err != nil {
		fmt.Fprintf(&b, "heap profile failed: %v\n", err)
		heap = ""
	}
	top := func(title, file string, args ...string) {
		if file == "" {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		a := append([]string{"tool", "pprof", "-top", "-nodecount=15"}, args...)
		out, err := exec.CommandContext(pctx, "go", append(a, bin, file)...).CombinedOutput()
		if err != nil {
			fmt.Fprintf(&b, "%s: go tool pprof: %v\n", title, err)
			return
		}
		fmt.Fprintf(&b, "%s:\n\n", title)
		for l := range strings.Lines(string(out)) {
			if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") {
				continue
			}
			b.WriteString("    " + l)
		}
		b.WriteString("\n")
	}
	top("CPU in the steady window (flat, top 15)", cpu)
	top("CPU, cumulative (top 15)", cpu, "-cum")
	top(fmt.Sprintf("CPU from just before the SIGHUP, %d s (cumulative, top 15)", reloadProfSecs), reload, "-cum")
	top("heap in use (top 15)", heap, "-sample_index=inuse_space")
	return b.String()
}
