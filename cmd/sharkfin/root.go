package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/pipeline"
)

// Exit statuses, as in the contract.
const (
	exitOK    = 0
	exitBad   = 1 // bad input or config
	exitUsage = 2
)

// version is stamped by the Makefile (-ldflags "-X main.version=...").
var version = ""

// usageError marks command-line mistakes (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// env is what every subcommand gets instead of globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	in             *bufio.Reader // stdin, buffered once: peeked, then read
}

// input returns the command's standard input, buffered: what is peeked
// at (to tell events from logs) is still read after.
func (e *env) input() *bufio.Reader {
	if e.in == nil {
		e.in = bufio.NewReaderSize(e.stdin, 64<<10)
	}
	return e.in
}

// openLog opens path for a whole read (pipeline.OpenLog), or the
// command's standard input for "-".
func (e *env) openLog(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(e.input()), nil
	}
	return pipeline.OpenLog(path)
}

// newRootCmd builds the command tree.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "sharkfin",
		Short: "Per-node security analytics: finds the not-normal in access logs",
		Long: `sharkfin follows the access logs of web servers (Apache, Nginx), forward
proxies (Squid) and resolvers (BIND) through every rotation, counts each
client per time window in a local state file, scores every window against a
K-Means model, and sends the scored events to Fluentd. It finds scanners,
brute force, scrapers and slow probers that signature tools miss.

Commands:

    run           the agent (the systemd unit sharkfin.service runs it;
                  SIGHUP reloads models and config, SIGTERM commits and exits)
    score, train  offline: score log files, build a model
    model         keygen, sign, verify, inspect model files
    check, state  validate a configuration; read the agent's state

Files:

    /etc/sharkfin/sharkfin.yaml   the configuration; the reference with every
                                  key and default is
                                  /usr/share/doc/sharkfin/examples/sharkfin.yaml
    /etc/sharkfin/models/         models (MODEL.sig beside each when
                                  detect.trusted_keys is set)
    /var/lib/sharkfin/state.db    offsets, counters, history, outbox
    /etc/default/sharkfin         SHARKFIN_OPTS for the unit

Exit status: 0 ok, 1 bad input or configuration (the message names the
file, the line or field, and the fix), 2 usage.

The operator's guide: /usr/share/doc/sharkfin/operating.md`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newScoreCmd(e),
		newTrainCmd(e),
		newModelCmd(e),
		newVersionCmd(e),
		newDocsCmd(e),
	)
	addAgentCommands(root, e)
	return root
}

// Main runs the command line and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "sharkfin: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitBad
}

// isCobraUsage recognises cobra's own argument errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(e.stdout, "sharkfin %s\n", versionString())
			return nil
		},
	}
}
