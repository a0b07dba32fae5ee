package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
)

// parseConfigFlags parses the flags shared by validate and check.
func parseConfigFlags(name string, args []string) (*pflag.FlagSet, string, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errUsage, err)
	}
	path, _ := fs.GetString("config")
	if path == "" {
		return nil, "", fmt.Errorf("%w: %s needs --config FILE", errUsage, name)
	}
	return fs, path, nil
}

// runValidate prints every problem of a config, one per line, and fails if
// there is any: what could not be read, what breaks the config's rules,
// then what stops a check's prober from being built, for the checks that
// had no problem before (the others would only repeat theirs).
func runValidate(args, env []string, stdout io.Writer) error {
	fs, path, err := parseConfigFlags("validate", args)
	if err != nil {
		return err
	}
	cfg, err := config.Inspect(config.LoadOptions{File: path, Env: env, Flags: fs})
	var lines []string
	if err != nil {
		lines = problems(err)
	}
	if cfg != nil {
		lines = append(lines, proberProblems(cfg, lines)...)
	}
	if len(lines) > 0 {
		for _, line := range lines {
			fmt.Fprintln(stdout, line)
		}
		return errFailed
	}
	fmt.Fprintf(stdout, "%s: valid (%d components, %d checks)\n", path, len(cfg.Components), len(cfg.Checks))
	return nil
}

// proberProblems builds the prober of every check that no line of found
// names, and returns why those that fail cannot be built, each line under
// its check's key path. Secrets are scrubbed from them.
func proberProblems(cfg *config.Config, found []string) []string {
	sc := &scrubber{}
	sc.set(cfg.Secrets())
	var out []string
	for i, c := range cfg.Checks {
		key := fmt.Sprintf("checks[%d]", i)
		if slices.ContainsFunc(found, func(l string) bool {
			return strings.HasPrefix(l, key+".") || strings.HasPrefix(l, key+":")
		}) {
			continue
		}
		if _, err := probe.New(c, probe.Options{UserAgent: "tocsin/" + version, Beats: noBeats{}}); err != nil {
			for _, l := range problems(err) {
				out = append(out, sc.scrub(key+": "+l))
			}
		}
	}
	return out
}

// problems flattens joined errors into one line each.
func problems(err error) []string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

// runCheck runs one check once and prints its result. Exit 1 if it is down.
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
		o := probe.Options{UserAgent: "tocsin/" + version, Beats: noBeats{}}
		if c.Heartbeat != nil {
			// A heartbeat check reads the beats stored in the daemon's Redis.
			client, closeRedis, err := openRedis(ctx, cfg.Redis, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer closeRedis()
			o.Beats = redisstore.New(client, cfg.Redis.KeyPrefix)
		}
		p, err := probe.New(c, o)
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		pctx, cancel := context.WithTimeout(ctx, c.Timeout)
		r := p.Probe(pctx)
		cancel()
		sc := &scrubber{}
		sc.set(cfg.Secrets())
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
}
