// Package promote implements `mlops promote NAME@VERSION --alias A`: point an alias at a version.
package promote

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// PromoteOptions are the inputs of `mlops promote`.
type PromoteOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry string
	Ref      string
	Alias    string
}

// NewCmdPromote builds `mlops promote`.
func NewCmdPromote(f *cmdutil.Factory, runF func(*PromoteOptions) error) *cobra.Command {
	opts := &PromoteOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "promote NAME@VERSION --alias ALIAS",
		Short: "Point an alias (e.g. production) at a model version",
		Long: `Point ALIAS of model NAME at VERSION. NAME@OTHER_ALIAS is accepted too
(promote whatever staging points to). Consumers that load NAME@ALIAS (serve,
eval) pick up the new version on their next load. Every move is recorded, so
'mlops rollback NAME --alias ALIAS' returns to the previous version.

` + cmdutil.RegistryHelpPointer + `

--output json prints the alias: name, alias, version, updated, history (seq,
action, version, previous, time).`,
		Example: `  mlops promote fmnist@4 --alias production
  mlops promote fmnist@staging --alias production`,
		Args: cmdutil.ExactArgs(1, "NAME@VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return promoteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	cmd.Flags().StringVar(&opts.Alias, "alias", "", "alias to move (required)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefAny, false)
	return cmd
}

func promoteRun(ctx context.Context, opts *PromoteOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	ref, err := registry.ParseRef(opts.Ref)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if ref.Version == 0 && ref.Alias == "" {
		return cmdutil.FlagErrorf("say which version to promote: %s@VERSION (see 'mlops ls %s')", ref.Name, ref.Name)
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
	m, err := reg.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	st, err := reg.Promote(ctx, m.Name, m.Version, opts.Alias)
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, st)
	}
	prev := "new alias"
	if last := st.History[len(st.History)-1]; last.Previous != 0 {
		prev = fmt.Sprintf("was %d", last.Previous)
	}
	fmt.Fprintf(opts.IO.Out, "%s@%s -> %d (%s)\n", st.Name, st.Alias, st.Version, prev)
	return nil
}
