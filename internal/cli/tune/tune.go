// Package tune implements `mlops tune`: run a hyperparameter or optimization study from a
// study file (run), look at it (status, best) and export it (export).
package tune

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// NewCmdTune builds `mlops tune` and its subcommands.
func NewCmdTune(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tune <command>",
		Short: "Search hyperparameters and optimization settings, resumable and parallel",
		Long: `Run a study: a search space, one or several objectives, a sampler (grid, random,
tpe, cmaes, nsga2), a pruner (none, median, asha), a budget, and what one trial runs
(any command). Every trial is kept in an append-only journal (a file, or a blob URL
shared by workers on several machines) that survives crashes: run the same command
again to resume.

See docs/tune.md for the study file format.`,
		Example: `  mlops tune run study.yaml
  mlops tune run --worker study.yaml         # one of several processes sharing the study
  mlops tune status study.yaml
  mlops tune best study.yaml --output json
  mlops tune export study.yaml --format optuna-journal optuna.log`,
	}
	cmd.AddCommand(NewCmdRun(f, nil), NewCmdStatus(f, nil), NewCmdBest(f, nil), NewCmdExport(f, nil))
	return cmd
}

// isStudyFile tells a study file from a journal location.
func isStudyFile(arg string) bool {
	return strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")
}

// loadStudy opens STUDY (a study file or a journal) read-only and replays it.
func loadStudy(ctx context.Context, io *cmdutil.IOStreams, arg string) (*study.Study, string, error) {
	loc := arg
	if isStudyFile(arg) {
		spec, err := loadSpec(arg)
		if err != nil {
			return nil, "", err
		}
		loc = spec.Storage
	}
	j, err := journal.Open(ctx, loc, journal.Options{ReadOnly: true})
	if err != nil {
		return nil, "", err
	}
	defer j.Close()
	st, err := j.Load(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, w := range j.Warnings() {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", w)
	}
	return st, j.Location(), nil
}
