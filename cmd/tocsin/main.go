// Command tocsin is a synthetic-monitoring and auto-incident daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // page.time_zone must load in a distroless image too
)

// errUsage marks a command-line mistake (exit 2); errFailed a check that
// found problems (exit 1) after printing them; errUnknown a check that
// could not be judged (exit 3, as Nagios plugins' UNKNOWN), after saying why.
var (
	errUsage   = errors.New("usage")
	errFailed  = errors.New("failed")
	errUnknown = errors.New("unknown")
)

func main() {
	// Catch SIGHUP before anything else: its default action would kill a
	// daemon that is still starting (loading config, waiting for Redis).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Environ(), os.Stdout, hup), os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return 1
	case errors.Is(err, errUnknown):
		return 3
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, "tocsin:", err)
	return 1
}

const usage = `usage: tocsin <command> [flags]

commands:
  run --config FILE        run the daemon (also: tocsin --config FILE)
  demo [--listen ADDR]     everything in one process against a simulated SaaS
  validate --config FILE [--syntax-only]
                           check a config; exit 1 listing every problem
  check --config FILE [--output json] NAME
                           run one check once and print its result;
                           exit 0 up or degraded, 1 down, 3 unknown (a
                           heartbeat check with no store to read)
  notify test --config FILE RECEIVER
                           send a test event to one notification receiver
  version                  print version information

flags (run): --listen, --redis-url, --log-level, --log-format (json|text)`

// run dispatches the subcommand. ctx is cancelled by SIGTERM/SIGINT; hup
// delivers SIGHUP (reload).
func run(ctx context.Context, args, env []string, stdout io.Writer, hup <-chan os.Signal) error {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runDaemon(ctx, args, env, stdout, hup)
	case "demo":
		return runDemo(ctx, args, env, stdout, hup)
	case "validate":
		return runValidate(args, env, stdout)
	case "check":
		return runCheck(ctx, args, env, stdout)
	case "notify":
		return runNotify(ctx, args, env, stdout)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, cmd, usage)
}
