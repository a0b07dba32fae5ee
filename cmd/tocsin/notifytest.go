package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/notify"
)

// runNotifyTest is `tocsin notify test --config FILE RECEIVER`: it sends a test
// event to one receiver and prints the receiver's answer. Exit 1 if the
// receiver did not take it.
func runNotifyTest(ctx context.Context, fs *pflag.FlagSet, name string, env []string, stdout io.Writer) error {
	path, err := configPath(fs, "notify test")
	if err != nil {
		return err
	}
	cfg, err := config.Load(config.LoadOptions{File: path, Env: env, Flags: fs})
	if err != nil {
		return err
	}
	sc := &scrubber{}
	sc.set(cfg.Secrets())
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
