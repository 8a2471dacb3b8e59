// Package ls implements `mlops ls [NAME]`: the models in the registry, or the versions of one.
package ls

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// LsOptions are the inputs of `mlops ls`.
type LsOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry string
	Name     string
}

// NewCmdLs builds `mlops ls`.
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "ls [NAME]",
		Short: "List the models in the registry, or the versions of one model",
		Long: `Without NAME, list the models: name, number of versions, latest version, when
it was pushed, and aliases. With NAME, list its versions: version, aliases,
size, created time, message and metrics.

` + cmdutil.RegistryHelp + `

--output json prints, without NAME, an array of {name, versions, latest, updated,
aliases (alias → version)}; with NAME, an array of manifests (the fields of
'mlops push --output json') each with aliases (names pointing to it).

` + cmdutil.ExitCodesHelp,
		Example: `  mlops ls
  mlops ls fmnist
  mlops ls fmnist --output json | jq '.[] | {version, metrics}'`,
		Args: cmdutil.RangeArgs(0, 1, "an optional model NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return lsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	return cmd
}

func lsRun(ctx context.Context, opts *LsOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	if opts.Name != "" {
		if err := registry.ValidateName(opts.Name); err != nil {
			return cmdutil.FlagErrorf("%v", err)
		}
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{})
	if err != nil {
		return err
	}
	defer reg.Close()
	if opts.Name == "" {
		models, err := reg.Models(ctx)
		if err != nil {
			return err
		}
		if models == nil {
			models = []registry.ModelSummary{}
		}
		if format == cmdutil.FormatJSON {
			return cmdutil.PrintJSON(opts.IO, models)
		}
		if len(models) == 0 {
			opts.IO.Statusf("no models in %s; add one with 'mlops push MODEL NAME'", reg.URL())
			return nil
		}
		t := cmdutil.NewTable(opts.IO, "name", "versions", "latest", "updated", "aliases")
		for _, m := range models {
			t.AddRow(m.Name, fmt.Sprint(m.Versions), fmt.Sprint(m.Latest), m.Updated.Local().Format(time.DateTime), aliasList(m.Aliases))
		}
		return t.Render()
	}
	versions, err := reg.Versions(ctx, opts.Name)
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, versions)
	}
	t := cmdutil.NewTable(opts.IO, "version", "aliases", "size", "created", "message", "metrics")
	for _, v := range versions {
		t.AddRow(fmt.Sprint(v.Version), strings.Join(v.Aliases, ","), cmdutil.HumanBytes(v.Size),
			v.Created.Local().Format(time.DateTime), v.Message, metricList(v.Metrics))
	}
	return t.Render()
}

func aliasList(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for a, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", a, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func metricList(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
