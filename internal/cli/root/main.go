package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

// Main runs mlops with the process's arguments and streams and returns the
// exit code.
func Main() int {
	io := cmdutil.System(os.LookupEnv)
	ctx, stop := cmdutil.SignalContext(context.Background(), io.ErrOut, os.Exit)
	defer stop()
	return Run(ctx, io, os.Args[1:])
}

// Run executes one command line and returns its exit code. Errors are
// printed once, as "error: ..." on stderr; usage errors add a hint.
func Run(ctx context.Context, io *cmdutil.IOStreams, args []string) int {
	f := &cmdutil.Factory{IO: io, ExecutableName: "mlops"}
	f.Runtime = cmdutil.RuntimeLoader(f)
	f.Registry = cmdutil.RegistryLoader(f)
	root := NewCmdRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		if _, interrupted := cmdutil.Interrupted(ctx); interrupted && cmd.Annotations[cmdutil.AnnotationRunsUntilSignal] == "" {
			// The signal came after the command's last safe point (its files were already
			// in place): say so rather than leave "stopping" as the last word.
			fmt.Fprintln(io.ErrOut, "the command had already finished its work when the signal came; its results above are complete")
		}
		return cmdutil.ExitOK
	}
	err = classify(err, args)
	if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
		err = cause
	}
	if !cmdutil.IsSilent(err) {
		fmt.Fprintf(io.ErrOut, "error: %s\n", err)
		if cmdutil.IsUsageError(err) {
			if cmd == nil {
				cmd = root
			}
			fmt.Fprintf(io.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return cmdutil.ExitCode(err)
}

// classify turns the untyped errors cobra itself returns for a wrong command
// line into usage errors; -o FORMAT on a command without -o gets a hint.
func classify(err error, args []string) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown shorthand flag: 'o'") {
		if hint := cmdutil.OutputHint(args); hint != "" {
			return cmdutil.FlagErrorf("%s: %s", msg, hint)
		}
	}
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) {
		return err
	}
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "required flag", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return &cmdutil.FlagError{Err: err}
		}
	}
	return err
}

// compile-time check that cobra's signature did not change under us.
var _ = (*cobra.Command).ExecuteContextC
