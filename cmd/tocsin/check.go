package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// runCheck runs one check once and prints its result: exit 0 when up or
// degraded, 1 when down, 3 (errUnknown) when a heartbeat check cannot be
// judged from here.
func runCheck(ctx context.Context, args, env []string, stdout io.Writer) error {
	fs, path, err := parseConfigFlags("check", args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: check needs exactly one check NAME", errUsage)
	}
	cfg, err := config.Load(config.LoadOptions{File: path, Env: env, Flags: fs})
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	for _, c := range cfg.Checks {
		if c.Name != name {
			continue
		}
		sc := &scrubber{}
		sc.set(cfg.Secrets())
		if c.Heartbeat != nil {
			return checkHeartbeat(ctx, cfg, c, sc, stdout)
		}
		p, err := probe.New(c, probe.Options{UserAgent: "tocsin/" + appVersion(), Beats: noBeats{}})
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		pctx, cancel := context.WithTimeout(ctx, c.Timeout)
		r := p.Probe(pctx)
		cancel()
		r.Message = sc.scrub(r.Message)
		printResult(stdout, c, r)
		if r.Status == probe.StatusDown {
			return errFailed
		}
		return nil
	}
	return fmt.Errorf("%w: no check named %q in %s", errUsage, name, path)
}

func printResult(w io.Writer, c config.Check, r probe.Result) {
	fmt.Fprintf(w, "check:    %s (%s, component %s)\n", c.Name, c.Type, c.Component)
	fmt.Fprintf(w, "status:   %s\n", r.Status)
	if r.Reason != probe.ReasonNone {
		fmt.Fprintf(w, "reason:   %s\n", r.Reason)
	}
	if r.Message != "" {
		fmt.Fprintf(w, "message:  %s\n", r.Message)
	}
	if r.StatusCode != 0 {
		fmt.Fprintf(w, "code:     %d\n", r.StatusCode)
	}
	fmt.Fprintf(w, "duration: %s\n", r.Duration.Round(time.Microsecond))
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "  %-11s %s\n", ph.Name, ph.Duration.Round(time.Microsecond))
	}
	if !r.CertNotAfter.IsZero() {
		fmt.Fprintf(w, "cert:     expires %s\n", r.CertNotAfter.UTC().Format(time.RFC3339))
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning:  %s: %s\n", wn.Reason, wn.Message)
	}
}
