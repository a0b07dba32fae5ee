package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tocsin/tocsin/config"
)

// newCLI builds the command line (docs/configuration.md, Flags) on cobra, over the pflag flags
// the commands always had: --help on every command with its flags,
// --version, `tocsin completion bash|zsh|fish|powershell`, and a
// suggestion for a mistyped command. Every command-line mistake is an
// errUsage (exit 2); cobra prints nothing of its own.
func newCLI(ctx context.Context, env []string, stdout io.Writer, hup <-chan os.Signal) *cobra.Command {
	daemonRun := func(cmd *cobra.Command, _ []string) error { return runDaemon(ctx, cmd.Flags(), env, stdout, hup) }
	root := &cobra.Command{
		Use:   "tocsin",
		Short: "synthetic monitoring that opens, updates and resolves incidents on a status page",
		Long: "tocsin probes HTTP, SMTP, TCP, queue and heartbeat checks, opens, updates and resolves\n" +
			"incidents in Redis, and serves a Statuspage-compatible API, its own status page and\n" +
			"Prometheus metrics. `tocsin --config FILE` is `tocsin run --config FILE`.",
		Version:       versionString(),
		Args:          unknownCommand,
		RunE:          daemonRun,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %w", errUsage, err) })
	config.RegisterFlags(root.Flags())

	run := &cobra.Command{Use: "run --config FILE", Short: "run the daemon", Args: usageArgs(cobra.NoArgs), RunE: daemonRun}
	config.RegisterFlags(run.Flags())

	var listen string
	demo := &cobra.Command{
		Use:   "demo",
		Short: "everything in one process against a simulated SaaS: no Redis, no network",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(*cobra.Command, []string) error { return runDemo(ctx, listen, env, stdout, hup) },
	}
	demo.Flags().StringVar(&listen, "listen", ":8080", "address of the status page and API")

	var syntaxOnly bool
	validate := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "check a config; exit 1 listing every problem with where it is",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runValidate(cmd.Flags(), syntaxOnly, env, stdout) },
	}
	config.RegisterFlags(validate.Flags())
	validate.Flags().BoolVar(&syntaxOnly, "syntax-only", false,
		"check everything but the contents of the files the config names (*_file, ca_file, cert_file, key_file)")

	var output string
	check := &cobra.Command{
		Use:   "check --config FILE NAME",
		Short: "run one check once and print its result: exit 0 up or degraded, 1 down, 3 unknown",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(ctx, cmd.Flags(), args[0], output, env, stdout)
		},
	}
	config.RegisterFlags(check.Flags())
	check.Flags().StringVarP(&output, "output", "o", "text", "text or json")

	notify := &cobra.Command{Use: "notify", Short: "notification receivers", Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%w: %s needs a command: test", errUsage, cmd.CommandPath())
		}}
	notifyTest := &cobra.Command{
		Use:   "test --config FILE RECEIVER",
		Short: "send a test event to one notification receiver",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNotifyTest(ctx, cmd.Flags(), args[0], env, stdout)
		},
	}
	config.RegisterFlags(notifyTest.Flags())
	notify.AddCommand(notifyTest)

	version := &cobra.Command{
		Use:   "version",
		Short: "print version information",
		Args:  usageArgs(cobra.NoArgs),
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, versionString()) },
	}
	root.AddCommand(run, demo, validate, check, notify, version)
	// cobra's help command prints the root's help and exits 0 for a topic
	// it does not know; this one makes that a usage error with a
	// suggestion, like a mistyped command.
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest)
			}
			return target.Help()
		},
	})
	// cobra's own completion command, made now so that its mistakes are
	// usage errors too: `completion bsh` would print help and exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Args = unknownCommand
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%w: %s needs a shell: bash, zsh, fish or powershell", errUsage, cmd.CommandPath())
		}
		for _, shell := range c.Commands() {
			shell.Args = usageArgs(shell.Args)
		}
	}
	return root
}

// unknownCommand rejects positional arguments of a command that takes
// none but subcommands, suggesting the subcommand meant.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its own path
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return fmt.Errorf("%w: %s", errUsage, msg)
}

// usageArgs makes a positional-argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w: %s: %w", errUsage, cmd.CommandPath(), err)
		}
		return nil
	}
}
