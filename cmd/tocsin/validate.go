package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/probe/probes"
)

// parseConfigFlags parses the flags shared by validate and check.
// configPath returns the --config a command needs.
func configPath(fs *pflag.FlagSet, command string) (string, error) {
	path, _ := fs.GetString("config")
	if path == "" {
		return "", fmt.Errorf("%w: %s needs --config FILE", errUsage, command)
	}
	return path, nil
}

// runValidate prints every problem of a config, one per line, and fails if
// there is any: what could not be read, what breaks the config's rules,
// then what stops a check's prober from being built, for the checks that
// had no problem before (the others would only repeat theirs).
func runValidate(fs *pflag.FlagSet, syntaxOnly bool, env []string, stdout io.Writer) error {
	path, err := configPath(fs, "validate")
	if err != nil {
		return err
	}
	opts := config.LoadOptions{File: path, Env: env, Flags: fs, SyntaxOnly: syntaxOnly}
	cfg, err := config.Inspect(opts)
	var lines []string
	if err != nil {
		lines = problems(err)
	}
	if cfg != nil {
		// A check whose files were not read has no prober to build: its
		// secrets and CA bundle are missing.
		found := append(slices.Clone(lines), cfg.UnreadFiles()...)
		lines = append(lines, proberProblems(cfg, found)...)
	}
	if len(lines) > 0 {
		at := positions(path, config.Overrides(opts))
		for _, line := range lines {
			fmt.Fprintln(stdout, at(line))
		}
		return errFailed
	}
	if syntaxOnly {
		fmt.Fprintf(stdout, "%s: valid (%d components, %d checks; %d files named, not read)\n", path, len(cfg.Components), len(cfg.Checks),
			countFiles(cfg.UnreadFiles()))
		return nil
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
	cas := probe.NewShared()
	for i, c := range cfg.Checks {
		key := fmt.Sprintf("checks[%d]", i)
		if slices.ContainsFunc(found, func(l string) bool {
			return strings.HasPrefix(l, key+".") || strings.HasPrefix(l, key+":")
		}) {
			continue
		}
		if _, err := probes.New(c, probe.Options{UserAgent: "tocsin/" + appVersion(), Beats: noBeats{}, Shared: cas}); err != nil {
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

// positions returns a function that puts "FILE:LINE:COL: " before a
// problem line whose key path the file writes, as compilers do, so that
// an editor can jump to it; other lines (defaults, and keys an
// environment variable or a flag set, overrides) are left as they are.
func positions(path string, overrides []string) func(line string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return func(line string) string { return line }
	}
	loc := config.NewLocator(b)
	return func(line string) string {
		key, _, ok := strings.Cut(line, ": ")
		if !ok {
			return line
		}
		if slices.ContainsFunc(overrides, func(o string) bool { return key == o || strings.HasPrefix(key, o+".") }) {
			return line
		}
		if pos, found := loc.Locate(key); found {
			return fmt.Sprintf("%s:%d:%d: %s", path, pos.Line, pos.Column, line)
		}
		return line
	}
}

// countFiles counts the file keys (*_file, ca_file) among unread keys.
func countFiles(keys []string) int {
	n := 0
	for _, k := range keys {
		if strings.HasSuffix(k, "_file") {
			n++
		}
	}
	return n
}
