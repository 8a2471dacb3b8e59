package tune

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/safefile"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

// ExportOptions are the inputs of `mlops tune export`.
type ExportOptions struct {
	IO     *cmdutil.IOStreams
	Study  string
	Format string
	Output string
	Out    string // -o/--out, the same as the FILE argument
	Force  bool
}

// NewCmdExport builds `mlops tune export`.
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "export <study.yaml | journal> --format optuna-journal (FILE | -o FILE)",
		Short: "Write a study in another tool's format (Optuna's journal)",
		Long: `Write the study's finished trials as an Optuna journal (--format
optuna-journal): optuna.storages.JournalStorage(JournalFileStorage(FILE)) loads it
(tested with Optuna 3.1) with the same trials, parameters, values, intermediate
values and best trial, so optuna-dashboard and optuna.visualization work on it.
mlops' trial number and metrics are in each trial's user_attrs. Running trials are
left out.`,
		Example: `  mlops tune export study.yaml --format optuna-journal optuna.log
  python3 -c "import optuna; s = optuna.load_study(study_name='fmnist-lr',
      storage=optuna.storages.JournalStorage(optuna.storages.JournalFileStorage('optuna.log'))); print(s.best_params)"`,
		Args: cmdutil.RangeArgs(1, 2, "a study file or journal and the output FILE (or -o FILE)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Study = args[0]
			var arg string
			if len(args) > 1 {
				arg = args[1]
			}
			out, err := cmdutil.OutputArg(arg, opts.Out)
			if err != nil {
				return err
			}
			if out == "" {
				return cmdutil.FlagErrorf("say where to write the journal: FILE or -o FILE")
			}
			opts.Output = out
			if opts.Format != "optuna-journal" {
				return cmdutil.FlagErrorf("--format %q: the only export format is optuna-journal", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutFlag(cmd.Flags(), &opts.Out, "file to write, as the FILE argument")
	cmd.Flags().StringVar(&opts.Format, "format", "optuna-journal", "output format: optuna-journal")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite FILE if it exists")
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, append([]string{"jsonl"}, cmdutil.ConfigExts...)...)
	cmdutil.CompleteEnum(cmd, "format", "optuna-journal")
	return cmd
}

func exportRun(ctx context.Context, opts *ExportOptions) error {
	if err := cmdutil.CheckOutput("OUTPUT", opts.Output, opts.Force); err != nil {
		return err // an Optuna journal is appended to: writing into an old one would mix studies
	}
	st, _, err := loadStudy(ctx, opts.IO, opts.Study)
	if err != nil {
		return err
	}
	data, skipped, err := coretune.ExportOptunaJournal(st)
	if err != nil {
		return err
	}
	if err := safefile.WriteFile(ctx, opts.Output, data, opts.Force); err != nil {
		return err // safefile's errors name the file or its folder
	}
	msg := fmt.Sprintf("wrote %s: study %s, %d trials", opts.Output, st.Name, len(st.Trials)-skipped)
	if skipped > 0 {
		msg += fmt.Sprintf(" (%d running trials left out)", skipped)
	}
	opts.IO.Statusf("%s", msg)
	return nil
}
