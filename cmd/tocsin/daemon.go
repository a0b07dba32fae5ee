package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// shutdownBudget is how long the last writes, the leave and the HTTP
// shutdown may take after SIGTERM, after probeStopTimeout; the whole
// shutdown stays within the 10 s the contract promises.
const shutdownBudget = 6 * time.Second

// daemonOptions are what `run` and `demo` share.
type daemonOptions struct {
	load   config.LoadOptions
	stdout io.Writer
	// ready, if set, receives the listening address once serving.
	ready func(addr string)
	// hup delivers SIGHUP; it reloads the config.
	hup <-chan os.Signal
	// seed, if set, writes to the store before anything starts (the demo's
	// made-up history).
	seed func(ctx context.Context, client redis.UniversalClient, cfg *config.Config) error
}

func runDaemon(ctx context.Context, fs *pflag.FlagSet, env []string, stdout io.Writer, hup <-chan os.Signal) error {
	path, err := configPath(fs, "run")
	if err != nil {
		return err
	}
	return daemon(ctx, daemonOptions{load: config.LoadOptions{File: path, Env: env, Flags: fs}, stdout: stdout, hup: hup})
}

// daemon wires every part together and runs until ctx is cancelled.
func daemon(ctx context.Context, o daemonOptions) error {
	cfg, err := config.Load(o.load)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	sc := &scrubber{}
	sc.set(cfg.Secrets())
	logger := newLogger(o.stdout, cfg.Log, sc)
	logger.Info("starting tocsin", "version", appVersion(), "commit", buildCommit(), "checks", len(cfg.Checks))
	setMemoryLimit(logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo(reg)
	reloads, err := newReloadMetrics(reg, time.Now)
	if err != nil {
		return err
	}

	client, closeRedis, err := openRedis(ctx, cfg.Redis, logger)
	if err != nil {
		return err
	}
	defer closeRedis()
	if o.seed != nil {
		if err := o.seed(ctx, client, cfg); err != nil {
			return err
		}
	}
	store, err := redisstore.NewInstrumented(client, cfg.Redis.KeyPrefix, reg)
	if err != nil {
		return err
	}

	source, err := sourceAddress(cfg.Scheduler.SourceAddress)
	if err != nil {
		return err
	}
	if err := cfg.VantageError(); err != nil {
		return err
	}
	member := ownership.MemberID(cfg.Scheduler.Vantage, memberID())
	a := &app{logger: logger, scrub: sc, reloads: reloads, store: store, member: member, source: source}
	a.cfg.Store(cfg)
	if err := a.build(reg); err != nil {
		return err
	}
	if err := a.apply(cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return a.serve(ctx, o)
}

// serve runs the HTTP server, the engine, the snapshot refresher and the
// reload loop, and shuts them down in order when ctx ends.
func (a *app) serve(ctx context.Context, o daemonOptions) error {
	cfg := a.cfg.Load()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	// The timeouts close slow or idle connections (slowloris); config
	// validation keeps them all positive.
	srv := &http.Server{
		Handler:           a.status.Handler(),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	if cfg.Server.DebugListen != "" {
		if err := serveDebug(ctx, cfg.Server.DebugListen, a.logger); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if err := a.refresher.Refresh(ctx); err != nil {
		a.logger.Warn("first status snapshot is stale", "error", err)
	}
	a.sched.Start()
	a.logger.Info("listening", "addr", ln.Addr().String(), "member", a.member)
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	// The engine (the only writer on behalf of owned components) and the
	// ownership rounds run outside the errgroup, so that shutdown can stop
	// them before the final flush and the leave.
	loopCtx, stopLoops := context.WithCancel(runCtx)
	var loops sync.WaitGroup
	loops.Go(func() { _ = a.eng.Run(loopCtx) })
	loops.Go(func() { _ = a.owners.Run(loopCtx) })
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return a.refresher.Run(gctx) })
	g.Go(func() error { return a.notifier.Run(gctx) })
	if a.watchdog != nil {
		g.Go(func() error { return a.watchdog.Run(gctx) })
	}
	g.Go(func() error { a.reloadLoop(gctx, o.load, o.hup); return nil })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	})

	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	a.logger.Info("shutting down")
	// Stop probing (in-flight probes are cancelled, their results dropped),
	// stop the engine's loop and the lease rounds; write the last check
	// states and observations once, from here; then leave the membership,
	// so the other replicas take the components over at their next round;
	// then stop serving. One deadline bounds it all, whatever Redis does.
	deadline, done := context.WithTimeout(context.Background(), shutdownBudget)
	defer done()
	if err := a.sched.Shutdown(); err != nil {
		a.logger.Warn("scheduler shutdown", "error", err)
	}
	stopLoops()
	loops.Wait()
	a.notifier.Stop() // what is in flight stays pending, for the next owner
	a.eng.Flush(deadline)
	if err := a.owners.Leave(deadline); err != nil {
		a.logger.Warn("leaving the membership failed; the others take over when the lease ends", "error", err)
	}
	if err := srv.Shutdown(deadline); err != nil {
		a.logger.Warn("http shutdown", "error", err)
	}
	cancel()
	err = g.Wait()
	a.logger.Info("stopped")
	return err
}

// reloadLoop reloads the config on SIGHUP or when the file changes.
func (a *app) reloadLoop(ctx context.Context, lo config.LoadOptions, hup <-chan os.Signal) {
	changed := make(chan struct{}, 1)
	if lo.File != "" {
		go func() {
			err := config.Watch(ctx, lo.File, func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			})
			if err != nil {
				a.logger.Error("cannot watch the config file; reload with SIGHUP", "error", err)
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-changed:
		}
		a.reload(lo)
	}
}

// memberID names this replica in the ownership membership: the host name
// (the pod's, in Kubernetes) for people reading logs, and a random suffix,
// since a restarted process is a new member whose grants are new.
func memberID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tocsin"
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '-'
	}, host)
	return clean + "-" + incident.NewID()[:6]
}

// setMemoryLimit keeps the heap under 90% of the container's memory limit
// (GOMEMLIMIT, from the cgroup): left to itself, Go lets the heap grow to
// twice what is live before it collects, and that is what gets a replica
// near its limit OOM-killed. GOMEMLIMIT set in the environment wins;
// AUTOMEMLIMIT=off or a ratio changes it (docs/kubernetes.md).
func setMemoryLimit(logger *slog.Logger) {
	limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup), memlimit.WithRatio(0.9))
	switch {
	case err != nil:
		// Not in a container, or not on Linux: nothing to keep under.
		logger.Debug("no memory limit to keep the heap under", "error", err)
	case limit > 0 && limit < math.MaxInt64:
		logger.Info("heap kept under the container's memory limit", "gomemlimit_bytes", limit)
	}
}
