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

// run runs the command line args. ctx is cancelled by SIGTERM/SIGINT; hup
// delivers SIGHUP (reload).
func run(ctx context.Context, args, env []string, stdout io.Writer, hup <-chan os.Signal) error {
	cli := newCLI(ctx, env, stdout, hup)
	cli.SetArgs(args)
	return cli.ExecuteContext(ctx)
}
