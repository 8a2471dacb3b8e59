// Package ls implements `mlops ls [NAME]`: the models in the registry, or the versions of one.
package ls

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
	Metrics  []string
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
it was pushed, and aliases. With NAME, list its versions: version, created,
size, aliases, up to three headline metrics (accuracy, F1, AUC, loss, ... when
the versions have them; choose others with --metrics a,b) and the message. On
a terminal the table fits its width: the message and aliases are shortened,
then metrics and the message are left out; --output json keeps everything.

A version whose manifest cannot be read (not JSON, an unsafe path) is left out
with a warning that names its key; remove it with 'mlops rm NAME@VERSION'.

` + cmdutil.RegistryHelpPointer + `

--output json prints, without NAME, an array of {name, versions, latest, updated,
aliases (alias → version)}; with NAME, an array of manifests (the fields of
'mlops push --output json') each with aliases (names pointing to it).`,
		Example: `  mlops ls
  mlops ls fmnist
  mlops ls fmnist --metrics eval.accuracy,eval.f1_macro
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
	cmd.Flags().StringSliceVar(&opts.Metrics, "metrics", nil, "with NAME: metric columns to show, e.g. accuracy,loss (default: up to three headline metrics)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefNames, false)
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
	} else if len(opts.Metrics) > 0 {
		return cmdutil.FlagErrorf("--metrics chooses the metric columns of 'mlops ls NAME'; give a model NAME")
	}
	for _, m := range opts.Metrics {
		if strings.TrimSpace(m) == "" {
			return cmdutil.FlagErrorf("--metrics %q: an empty metric name", strings.Join(opts.Metrics, ","))
		}
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{})
	if err != nil {
		return err
	}
	defer reg.Close()
	if opts.Name == "" {
		models, skipped, err := reg.Models(ctx)
		if err != nil {
			return err
		}
		warnSkipped(opts.IO, skipped)
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
		return modelsTable(opts.IO, models).Render()
	}
	versions, skipped, err := reg.Versions(ctx, opts.Name)
	if err != nil {
		return err
	}
	warnSkipped(opts.IO, skipped)
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, versions)
	}
	return versionsTable(opts.IO, versions, opts.Metrics).Render()
}

// warnSkipped names every record a listing left out, on stderr (also with --quiet: the listing
// is incomplete).
func warnSkipped(io *cmdutil.IOStreams, skipped []registry.Skipped) {
	for _, s := range skipped {
		fmt.Fprintf(io.ErrOut, "warning: left out %s@%d: %s\n", s.Name, s.Version, s.Error)
	}
}

func modelsTable(io *cmdutil.IOStreams, models []registry.ModelSummary) *cmdutil.Table {
	cols := []column{{header: "name"}, {header: "versions"}, {header: "latest"}, {header: "updated"}, {header: "aliases"}}
	for _, m := range models {
		cols[0].cells = append(cols[0].cells, m.Name)
		cols[1].cells = append(cols[1].cells, fmt.Sprint(m.Versions))
		cols[2].cells = append(cols[2].cells, fmt.Sprint(m.Latest))
		cols[3].cells = append(cols[3].cells, m.Updated.Local().Format(timeFormat))
		cols[4].cells = append(cols[4].cells, aliasList(m.Aliases))
	}
	return fit(io, cols, step{col: "aliases"}, step{col: "name"})
}

// timeFormat: minutes are enough to tell versions apart in a table; JSON has the full time.
const timeFormat = "2006-01-02 15:04"

func aliasList(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for a, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", a, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
