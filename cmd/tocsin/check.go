package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/probe/probes"
)

// runCheck runs one check once and prints its result, as text or, with
// --output json, as one JSON object (checkreport.go): exit 0 when up or
// degraded, 1 when down, 3 (errUnknown) when a heartbeat check cannot be
// judged from here.
func runCheck(ctx context.Context, fs *pflag.FlagSet, name, output string, env []string, stdout io.Writer) error {
	path, err := configPath(fs, "check")
	if err != nil {
		return err
	}
	if output != "text" && output != "json" {
		return fmt.Errorf("%w: --output %q: want text or json", errUsage, output)
	}
	asJSON := output == "json"
	cfg, err := config.Load(config.LoadOptions{File: path, Env: env, Flags: fs})
	if err != nil {
		return err
	}
	for _, c := range cfg.Checks {
		if c.Name != name {
			continue
		}
		sc := &scrubber{}
		sc.set(cfg.Secrets())
		var rep *checkReport
		if c.Heartbeat != nil {
			rep = checkHeartbeat(ctx, cfg, c, sc)
		} else {
			source, err := sourceAddress(cfg.Scheduler.SourceAddress)
			if err != nil {
				return err
			}
			p, err := probes.New(c, probe.Options{UserAgent: "tocsin/" + appVersion(), Beats: noBeats{}, SourceAddr: source})
			if err != nil {
				return fmt.Errorf("check %s: %w", name, err)
			}
			pctx, cancel := context.WithTimeout(ctx, c.Timeout)
			rep = newReport(c, p.Probe(pctx), sc)
			cancel()
		}
		if err := rep.write(stdout, asJSON); err != nil {
			return err
		}
		switch rep.Status {
		case string(probe.StatusDown):
			return errFailed
		case "unknown":
			return errUnknown
		}
		return nil
	}
	return fmt.Errorf("%w: no check named %q in %s", errUsage, name, path)
}
