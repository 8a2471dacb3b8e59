// Package rm implements `mlops rm NAME@VERSION`: delete a model version that no alias uses.
package rm

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// RmOptions are the inputs of `mlops rm`.
type RmOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry string
	Ref      string
	Force    bool
}

// NewCmdRm builds `mlops rm`.
func NewCmdRm(f *cmdutil.Factory, runF func(*RmOptions) error) *cobra.Command {
	opts := &RmOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "rm NAME@VERSION",
		Short: "Delete a model version",
		Long: `Delete one version of a model. Files no other version uses are deleted; the
version number is never reused.

It is refused while an alias points to the version: promote another version to
that alias first. It is also refused while an alias's history still names the
version, because 'mlops rollback' would go back to it; --force removes it
anyway, and a later rollback passes over it (and says so). A version whose
manifest is damaged (not JSON, an unsafe path) can be removed: only the files
it still names legibly are deleted.

` + cmdutil.RegistryHelpPointer + `

--output json prints: name, version, deleted_blobs, freed_bytes, and when they
apply manifest_unreadable (true) and in_history_of (aliases, with --force).`,
		Example: `  mlops rm fmnist@2
  mlops rm fmnist@1 --force   # even though rollback of production would go back to it`,
		Args: cmdutil.ExactArgs(1, "NAME@VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return rmRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "remove a version an alias's history still names (never the one an alias points to now)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefVersions, false)
	return cmd
}

func rmRun(ctx context.Context, opts *RmOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	ref, err := registry.ParseRef(opts.Ref)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if ref.Version == 0 {
		return cmdutil.FlagErrorf("rm needs an explicit version, NAME@VERSION (not %q)", opts.Ref)
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{})
	if err != nil {
		return err
	}
	defer reg.Close()
	res, err := reg.Remove(ctx, ref.Name, ref.Version, registry.RemoveOptions{Force: opts.Force})
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, res)
	}
	fmt.Fprintf(opts.IO.Out, "removed %s (%d file(s) deleted, %s freed)\n", ref, res.DeletedBlobs, cmdutil.HumanBytes(res.FreedBytes))
	if res.ManifestUnreadable {
		opts.IO.Statusf("its manifest was damaged: only the files it still names legibly were deleted")
	}
	if len(res.InHistoryOf) > 0 {
		opts.IO.Statusf("alias %s no longer rolls back to it: a rollback passes over version %d", strings.Join(res.InHistoryOf, ", "), ref.Version)
	}
	return nil
}
