// Package push implements `mlops push MODEL NAME`: store an ONNX model (and its external data)
// as the next version of NAME in the model registry.
package push

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// PushOptions are the inputs of `mlops push`.
type PushOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry       string
	Model          string
	Name           string
	Aliases        []string
	Meta           []string
	MetricsFile    string
	Message        string
	Parent         string
	Transformation string
	PartSizeMiB    int
	Concurrency    int
}

// NewCmdPush builds `mlops push`.
func NewCmdPush(f *cmdutil.Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "push MODEL NAME",
		Short: "Store a model as the next version of NAME in the registry",
		Long: `Push an ONNX model to the model registry as the next version of NAME (1, 2, 3, ...).

The model's external data files (found from the model itself) are pushed with it
as one unit; a data file that is a symbolic link leading out of the model's
folder is refused, as every other command refuses it. Files are stored once by
sha256: a file already in the registry is read back and reused when its size and
sha256 match (identical weights are not uploaded again), and uploaded again when
the stored copy is damaged, which repairs every version that names it. The
version becomes visible only after every file is stored:
an interrupted push (Ctrl-C, network failure) leaves no version behind, and two
concurrent pushes of NAME get different versions.

The manifest records the files (sha256, size), the model's inputs and outputs,
the source path, lineage (--parent, --transformation), --meta pairs, metrics
read from --metrics (numeric fields of a JSON object; nested objects give
dotted names; an "mlops eval --output json" report gives its metrics under
eval's own names: accuracy, f1_macro, ...) and --message.

` + cmdutil.RegistryHelpPointer + `

--output json prints the manifest: schema_version, name, version, created,
files (path, sha256, size, role), size, source (path, host), lineage (parent,
transformation, options), signature (inputs, outputs: name, datatype, shape,
dim_names), metadata, metrics, message.`,
		Example: `  mlops push model.onnx fmnist --alias staging --message "retrained on May data"
  mlops push int8.onnx fmnist --parent fmnist@3 --transformation quantize --metrics eval.json
  mlops push model.onnx fmnist --registry 's3://models/prod?region=eu-west-1'`,
		Args: cmdutil.ExactArgs(2, "MODEL and NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model, opts.Name = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	fl.StringArrayVar(&opts.Aliases, "alias", nil, "point this alias at the new version (repeatable)")
	fl.StringArrayVar(&opts.Meta, "meta", nil, "metadata key=value (repeatable)")
	fl.StringVar(&opts.MetricsFile, "metrics", "", "JSON file whose numeric fields are stored as metrics (e.g. an eval report)")
	fl.StringVarP(&opts.Message, "message", "m", "", "description of this version")
	fl.StringVar(&opts.Parent, "parent", "", "lineage: the NAME@VERSION this model was derived from")
	fl.StringVar(&opts.Transformation, "transformation", "", "lineage: what made it from the parent (convert, quantize, prune, ...)")
	fl.IntVar(&opts.PartSizeMiB, "part-size", registry.DefaultPartSize>>20, "upload part size in MiB")
	fl.IntVar(&opts.Concurrency, "concurrency", registry.DefaultConcurrency, "parts uploaded in parallel")
	cmd.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return cmdutil.ModelExts, cobra.ShellCompDirectiveFilterFileExt
		}
		return cmdutil.ModelRefArgs(f, 2, cmdutil.RefNames, false)(c, args, toComplete)
	}
	cmdutil.CompleteModelRefs(f, cmd, "parent", false)
	cmdutil.CompleteFiles(cmd.Flags(), "metrics", "json")
	return cmd
}

func pushRun(ctx context.Context, opts *PushOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	if err := registry.ValidateName(opts.Name); err != nil {
		return cmdutil.FlagErrorf("NAME: %v", err)
	}
	for _, a := range opts.Aliases {
		if err := registry.ValidateAlias(a); err != nil {
			return cmdutil.FlagErrorf("--alias: %v", err)
		}
	}
	if opts.Parent != "" {
		if _, err := registry.ParseRef(opts.Parent); err != nil {
			return cmdutil.FlagErrorf("--parent: %v", err)
		}
	}
	if opts.PartSizeMiB < 5 || opts.PartSizeMiB > 5<<10 {
		return cmdutil.FlagErrorf("--part-size %d: use 5 to 5120 MiB (S3's limits)", opts.PartSizeMiB)
	}
	if opts.Concurrency < 1 || opts.Concurrency > 64 {
		return cmdutil.FlagErrorf("--concurrency %d: use 1 to 64", opts.Concurrency)
	}
	meta, err := parseMeta(opts.Meta)
	if err != nil {
		return err
	}
	var metrics map[string]float64
	if opts.MetricsFile != "" {
		if metrics, err = readMetrics(opts.MetricsFile); err != nil {
			return err
		}
	}
	var lineage *registry.Lineage
	if opts.Parent != "" || opts.Transformation != "" {
		lineage = &registry.Lineage{Parent: opts.Parent, Transformation: opts.Transformation}
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{PartSize: opts.PartSizeMiB << 20, Concurrency: opts.Concurrency})
	if err != nil {
		return err
	}
	defer reg.Close()
	host, _ := os.Hostname()
	progress := cmdutil.NewTransferProgress(opts.IO)
	m, err := reg.Push(ctx, opts.Model, opts.Name, registry.PushOptions{
		Aliases: opts.Aliases, Metadata: meta, Metrics: metrics, Message: opts.Message,
		Lineage: lineage, Host: host, Progress: progress.Report,
	})
	progress.Finish()
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, m)
	}
	fmt.Fprintf(opts.IO.Out, "pushed %s (%d file(s), %s)\n", m.Ref(), len(m.Files), cmdutil.HumanBytes(m.Size))
	for _, a := range opts.Aliases {
		fmt.Fprintf(opts.IO.Out, "alias %s@%s -> %d\n", m.Name, a, m.Version)
	}
	return nil
}

func parseMeta(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, cmdutil.FlagErrorf("--meta %q: write key=value", p)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}
