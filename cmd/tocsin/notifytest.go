package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/notify"
)

// runNotify is `tocsin notify test --config FILE RECEIVER`: it sends a test
// event to one receiver and prints the receiver's answer. Exit 1 if the
// receiver did not take it.
func runNotify(ctx context.Context, args, env []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return fmt.Errorf("%w: notify test --config FILE RECEIVER", errUsage)
	}
	fs, path, err := parseConfigFlags("notify test", args[1:])
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: notify test needs exactly one RECEIVER", errUsage)
	}
	cfg, err := config.Load(config.LoadOptions{File: path, Env: env, Flags: fs})
	if err != nil {
		return err
	}
	sc := &scrubber{}
	sc.set(cfg.Secrets())
	name := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	err = notify.Test(ctx, cfg, name, appVersion())
	took := time.Since(start).Round(time.Millisecond)
	var f *notify.Failure
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: test event delivered in %s\n", name, took)
		return nil
	case errors.As(err, &f):
		what := map[notify.Outcome]string{notify.Retry: "the receiver is down or busy; tocsin would retry",
			notify.Misconfigured: "the receiver refuses tocsin: check its URL and key",
			notify.Permanent:     "the receiver refused the event"}[f.Outcome]
		fmt.Fprintf(stdout, "%s: not delivered after %s: %s (%s)\n", name, took, sc.scrub(f.Error()), what)
	default:
		fmt.Fprintf(stdout, "%s: %s\n", name, sc.scrub(err.Error()))
	}
	return errFailed
}
