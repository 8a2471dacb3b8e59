// Package rollback implements `mlops rollback NAME --alias A`: move an alias back to the
// version it pointed to before its last promotion.
package rollback

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// RollbackOptions are the inputs of `mlops rollback`.
type RollbackOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry string
	Name     string
	Alias    string
}

// NewCmdRollback builds `mlops rollback`.
func NewCmdRollback(f *cmdutil.Factory, runF func(*RollbackOptions) error) *cobra.Command {
	opts := &RollbackOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "rollback NAME --alias ALIAS",
		Short: "Move an alias back to the version it pointed to before",
		Long: `Undo the last promotion of ALIAS: it points again to the version it pointed to
before. Rolling back again goes one more promotion back; it fails when the alias
has no earlier version. The rollback is recorded in the alias history. Versions
removed with 'mlops rm --force' since they were promoted are passed over (the
alias goes back to the newest earlier version that still exists), and the
command says which; they are listed in the event's "skipped".

` + cmdutil.RegistryHelpPointer + `

--output json prints the alias as 'mlops promote --output json' does.`,
		Example: `  mlops rollback fmnist --alias production`,
		Args:    cmdutil.ExactArgs(1, "the model NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return rollbackRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	cmd.Flags().StringVar(&opts.Alias, "alias", "", "alias to move back (required)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefNames, false)
	return cmd
}

func rollbackRun(ctx context.Context, opts *RollbackOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	if err := registry.ValidateName(opts.Name); err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if opts.Alias == "" {
		return cmdutil.FlagErrorf("--alias is required, e.g. --alias production")
	}
	if err := registry.ValidateAlias(opts.Alias); err != nil {
		return cmdutil.FlagErrorf("--alias: %v", err)
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{})
	if err != nil {
		return err
	}
	defer reg.Close()
	st, err := reg.Rollback(ctx, opts.Name, opts.Alias)
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, st)
	}
	last := st.History[len(st.History)-1]
	fmt.Fprintf(opts.IO.Out, "%s@%s -> %d (was %d)\n", st.Name, st.Alias, st.Version, last.Previous)
	if len(last.Skipped) > 0 {
		opts.IO.Statusf("passed over %s: removed with 'mlops rm --force'", skippedList(last.Skipped))
	}
	return nil
}

// skippedList formats passed-over versions: "version 2", "versions 3, 2".
func skippedList(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	if len(vs) == 1 {
		return "version " + parts[0]
	}
	return "versions " + strings.Join(parts, ", ")
}
