// Package root builds the mlops command tree: global flags, the per-run
// configuration loader, and the registration of every subcommand. Main is
// the whole program; cmd/mlops only calls it.
package root

import (
	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/cli/completion"
	"github.com/mlops-dev/mlops/internal/cli/convert"
	"github.com/mlops-dev/mlops/internal/cli/doctor"
	"github.com/mlops-dev/mlops/internal/cli/eval"
	"github.com/mlops-dev/mlops/internal/cli/inspect"
	"github.com/mlops-dev/mlops/internal/cli/ls"
	"github.com/mlops-dev/mlops/internal/cli/monitor"
	"github.com/mlops-dev/mlops/internal/cli/promote"
	"github.com/mlops-dev/mlops/internal/cli/prune"
	"github.com/mlops-dev/mlops/internal/cli/pull"
	"github.com/mlops-dev/mlops/internal/cli/push"
	"github.com/mlops-dev/mlops/internal/cli/quantize"
	"github.com/mlops-dev/mlops/internal/cli/retrain"
	"github.com/mlops-dev/mlops/internal/cli/rm"
	"github.com/mlops-dev/mlops/internal/cli/rollback"
	"github.com/mlops-dev/mlops/internal/cli/serve"
	"github.com/mlops-dev/mlops/internal/cli/tune"
	"github.com/mlops-dev/mlops/internal/cli/version"
)

// The groups of `mlops --help`, in the order they are shown.
const (
	groupModel    = "model"
	groupRegistry = "registry"
	groupServing  = "serving"
	groupSearch   = "search"
	groupSetup    = "setup"
)

// addCommands registers every subcommand, one line each, in its help group
// and in the order the group lists it. Register a command only when it
// works end to end: no placeholders.
func addCommands(root *cobra.Command, f *cmdutil.Factory) {
	// Groups list their commands in the order added here (a workflow
	// order), not alphabetically. The switch is cobra's own global; every
	// mlops command tree wants the same value.
	cobra.EnableCommandSorting = false
	root.AddGroup(
		&cobra.Group{ID: groupModel, Title: "Model:"},
		&cobra.Group{ID: groupRegistry, Title: "Registry:"},
		&cobra.Group{ID: groupServing, Title: "Serving and monitoring:"},
		&cobra.Group{ID: groupSearch, Title: "Search:"},
		&cobra.Group{ID: groupSetup, Title: "Setup:"},
	)
	add := func(group string, cmd *cobra.Command) {
		cmd.GroupID = group
		root.AddCommand(cmd)
	}
	add(groupModel, inspect.NewCmdInspect(f, nil))
	add(groupModel, convert.NewCmdConvert(f, nil))
	add(groupModel, quantize.NewCmdQuantize(f, nil))
	add(groupModel, prune.NewCmdPrune(f, nil))
	add(groupModel, retrain.NewCmdRetrain(f, nil))
	add(groupRegistry, push.NewCmdPush(f, nil))
	add(groupRegistry, pull.NewCmdPull(f, nil))
	add(groupRegistry, ls.NewCmdLs(f, nil))
	add(groupRegistry, promote.NewCmdPromote(f, nil))
	add(groupRegistry, rollback.NewCmdRollback(f, nil))
	add(groupRegistry, rm.NewCmdRm(f, nil))
	add(groupServing, serve.NewCmdServe(f, nil))
	add(groupServing, eval.NewCmdEval(f, nil))
	add(groupServing, monitor.NewCmdMonitor(f, nil))
	add(groupSearch, tune.NewCmdTune(f))
	add(groupSetup, doctor.NewCmdDoctor(f, nil))
	add(groupSetup, completion.NewCmdCompletion(f, nil))
	add(groupSetup, version.NewCmdVersion(f, nil))
	root.SetHelpCommandGroupID(groupSetup)
	root.SetCompletionCommandGroupID(groupSetup)
	// Help topics: commands without a Run that `mlops help NAME` prints.
	root.AddCommand(&cobra.Command{
		Use:   "registry",
		Short: "Where the model registry lives and where its credentials come from",
		Long:  cmdutil.RegistryHelp,
	})
}

// GlobalOptions are the values of the flags every command accepts.
type GlobalOptions struct {
	ConfigFile string
	Output     string
	Quiet      bool
	Verbose    bool
	NoColor    bool
	ORTLib     string
}

// NewCmdRoot builds the root command with all subcommands attached.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	g := &GlobalOptions{}
	cmd := &cobra.Command{
		Use:   "mlops <command> [flags]",
		Short: "Convert, optimize, version, serve and monitor ONNX models",
		Long: `mlops is a single binary for the life of an ONNX model: inspect and check it,
convert and optimize it, push it to a versioned registry, serve it over the
KServe v2 / Open Inference Protocol, and evaluate and monitor it.

Every flag is also a setting. Highest precedence first: the command-line
flag, an MLOPS_* environment variable, the config file (--config or
MLOPS_CONFIG, else $XDG_CONFIG_HOME/mlops/config.yaml, else ./mlops.yaml),
the built-in default. A command's flags are keys of its section, in snake
case: serve --max-batch-size is serve.max_batch_size in the file and
MLOPS_SERVE_MAX_BATCH_SIZE in the environment; global flags are top-level
(output, MLOPS_OUTPUT). Unknown keys in the config file are errors.

The model registry and its credentials: mlops help registry.

` + cmdutil.ExitCodesHelp,
		Example: `  mlops inspect model.onnx
  mlops inspect model.onnx --output json
  mlops completion bash > /etc/bash_completion.d/mlops`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Get().String(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setup(f, g, cmd)
		},
	}
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetIn(f.IO.In)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err}
	})

	pf := cmd.PersistentFlags()
	pf.StringVar(&g.ConfigFile, "config", "", "config file (default $XDG_CONFIG_HOME/mlops/config.yaml, then ./mlops.yaml)")
	pf.StringVar(&g.Output, "output", string(cmdutil.FormatTable), "output format: table, json or markdown (markdown where a command supports it)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only results and errors, no status messages")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "print diagnostic messages to stderr")
	pf.BoolVar(&g.NoColor, "no-color", false, "never use colour (also: NO_COLOR environment variable)")
	pf.StringVar(&g.ORTLib, "ort-lib", "", "path of the ONNX Runtime shared library (also: MLOPS_ORT_LIB)")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"table", "json", "markdown"}, cobra.ShellCompDirectiveNoFileComp
	})

	f.DeclareConfig(cmdutil.GlobalConfigKeys()...)
	addCommands(cmd, f)
	// After every command declared its own keys: the rest of the flags.
	f.DeclareConfig()
	cmdutil.DeclareCommandFlags(f.Schema, cmd)
	cmdutil.CompleteFiles(pf, "config", cmdutil.ConfigExts...)
	return cmd
}

// setup runs before every subcommand: it applies the stream flags and
// installs the configuration loader bound to this command's parsed flags.
func setup(f *cmdutil.Factory, g *GlobalOptions, cmd *cobra.Command) error {
	schema, flags, file, command := f.Schema, cmd.Flags(), g.ConfigFile, cmdutil.CommandKey(cmd)
	f.Config = cmdutil.OnceConfig(func() (*cmdutil.Config, error) {
		return cmdutil.LoadConfig(cmdutil.LoadOptions{Schema: schema, Flags: flags, ConfigFile: file, Command: command})
	})
	var cfg *cmdutil.Config
	if cmd.Annotations[cmdutil.AnnotationSkipConfig] == "" {
		// Load now so a bad config or --output value fails before any
		// work, and fill the flags the user left unset from the
		// environment and the file.
		var err error
		if cfg, err = f.Config(); err != nil {
			return err
		}
		if err := cfg.ApplyToFlags(); err != nil {
			return err
		}
	}
	if fl := cmd.Flags().Lookup(cmdutil.OutFlag); fl != nil && fl.Changed {
		if err := cmdutil.CheckOutNotFormat(fl.Value.String()); err != nil {
			return err
		}
	}
	if g.Quiet && g.Verbose {
		return cmdutil.FlagErrorf("--quiet and --verbose cannot be used together")
	}
	f.IO.Quiet, f.IO.Verbose = g.Quiet, g.Verbose
	if g.NoColor {
		f.IO.SetColorEnabled(false)
	}
	if cfg != nil && cfg.File() != "" {
		f.IO.Verbosef("config: %s", cfg.File())
	}
	return nil
}
