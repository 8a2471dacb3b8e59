package tune

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/tune/report"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// StatusOptions are the inputs of `mlops tune status`.
type StatusOptions struct {
	IO     *cmdutil.IOStreams
	Format func() (cmdutil.Format, error)

	Study      string
	PlotsDir   string
	ReportFile string
	Top        int
}

// NewCmdStatus builds `mlops tune status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "status <study.yaml | journal>",
		Short: "Show a study's trials by state, the best so far or the Pareto front",
		Long: `Replay the study's journal (read-only, safe while workers run) and show the
trials by state, the best trial (or the Pareto front for several objectives), the
best trials, running trials and a first-order parameter importance.

STUDY is the study file or the journal itself (a path or a blob URL).

--output json prints {"study", "storage", "objectives", "trials": {"complete",
"failed", "pruned", "running"}, "best": {"trial", "params", "values", "metrics",
"state", "duration_s"} (null until a trial completes), "pareto": [...] (several
objectives), "importance": [{"param", "share"}], "running": [...]}.`,
		Example: `  mlops tune status study.yaml
  mlops tune status s3://bucket/studies/fmnist.jsonl --output json | jq .trials
  mlops tune status study.yaml --plots plots/ --report study.html`,
		Args: cmdutil.ExactArgs(1, "a study file or journal"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Study = args[0]
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.PlotsDir, "plots", "", "write PNG and SVG plots (history, parallel coordinates, importance, ...) into this directory")
	cmd.Flags().StringVar(&opts.ReportFile, "report", "", "write a self-contained HTML report to this file")
	cmd.Flags().IntVar(&opts.Top, "top", 10, "how many of the best trials to list")
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, append([]string{"jsonl"}, cmdutil.ConfigExts...)...)
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	if err := checkArtifacts(opts.PlotsDir, opts.ReportFile); err != nil {
		return err
	}
	format, st, r, err := loadReport(ctx, opts.IO, opts.Format, opts.Study)
	if err != nil {
		return err
	}
	if err := writeArtifacts(ctx, opts.IO, r, opts.PlotsDir, opts.ReportFile); err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, buildStatus(r, st))
	}
	printStatus(opts.IO, r, st, opts.Top)
	return nil
}

// loadReport resolves --output, replays STUDY and summarises it.
func loadReport(ctx context.Context, ios *cmdutil.IOStreams, formatOf func() (cmdutil.Format, error), arg string) (cmdutil.Format, *study.Study, *report.Report, error) {
	format, err := formatOf()
	if err != nil {
		return "", nil, nil, err
	}
	st, loc, err := loadStudy(ctx, ios, arg)
	if err != nil {
		return "", nil, nil, err
	}
	return format, st, report.Build(st, loc, time.Now()), nil
}

// writeArtifacts writes --plots and --report.
// checkArtifacts vets --plots and --report before any work, so a missing
// folder is said at once and not after the study ran.
func checkArtifacts(plots, page string) error {
	if err := cmdutil.CheckOutputDir("--plots", plots); err != nil {
		return err
	}
	if page == "" {
		return nil
	}
	return cmdutil.CheckOutput("--report", page, true)
}

func writeArtifacts(ctx context.Context, io *cmdutil.IOStreams, r *report.Report, plots, page string) error {
	if plots != "" {
		files, err := report.WritePlots(ctx, r, plots)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		io.Statusf("wrote %d plot files to %s", len(files), plots)
	}
	if page != "" {
		if err := report.WriteHTML(ctx, r, page); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		io.Statusf("wrote %s", page)
	}
	return nil
}

func objectivesText(objs []study.Objective) string {
	parts := make([]string, len(objs))
	for i, o := range objs {
		parts[i] = fmt.Sprintf("%s (%s)", o.Metric, o.Direction)
	}
	return strings.Join(parts, ", ")
}

func countsText(c study.Counts) string {
	complete := fmt.Sprint(c.Complete)
	if c.Infeasible > 0 {
		complete = fmt.Sprintf("%d (%d infeasible)", c.Complete, c.Infeasible)
	}
	return fmt.Sprintf("%s complete, %d pruned, %d failed, %d running", complete, c.Pruned, c.Failed, c.Running)
}

func printStatus(io *cmdutil.IOStreams, r *report.Report, st *study.Study, top int) {
	w := io.Out
	fmt.Fprintf(w, "study %s (journal %s), objectives: %s\n", r.Study, r.Storage, objectivesText(r.Objectives))
	fmt.Fprintf(w, "trials: %s\n", countsText(r.Counts))
	printBest(w, r)
	rows := r.Top
	if len(r.Pareto) > 0 {
		rows = r.Pareto
	}
	rows = rows[:min(len(rows), top)]
	for _, t := range st.Trials {
		if t.State == study.Running {
			rows = append(rows, t)
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tb := cmdutil.NewTable(io, "TRIAL", "STATE", "VALUES", "PARAMETERS", "SECONDS")
		for _, t := range rows {
			secs := fmt.Sprintf("%.1f", t.Duration)
			if t.State == study.Running {
				secs = fmt.Sprintf("%.0f (running)", time.Since(t.Started).Seconds())
			}
			state := string(t.State)
			if !t.Feasible() {
				state += " (infeasible)"
			}
			tb.AddRow(fmt.Sprint(t.Number), state, report.FormatValues(r.Objectives, t), report.FormatParams(t.Params), secs)
		}
		_ = tb.Render() // printStatus reports to a terminal or pipe; a failed write has no caller to tell
	}
	if len(r.Importance) > 0 {
		parts := make([]string, len(r.Importance))
		for i, im := range r.Importance {
			parts[i] = fmt.Sprintf("%s %.0f%%", im.Param, 100*im.Share)
		}
		fmt.Fprintf(w, "\nimportance (first-order): %s\n", strings.Join(parts, ", "))
	}
}

func printBest(w io.Writer, r *report.Report) {
	switch {
	case r.Best != nil:
		fmt.Fprintf(w, "best: trial %d  %s  %s\n", r.Best.Number, report.FormatValues(r.Objectives, r.Best), report.FormatParams(r.Best.Params))
	case len(r.Pareto) > 0:
		fmt.Fprintf(w, "Pareto front: %d trials\n", len(r.Pareto))
	case r.Counts.Infeasible > 0:
		fmt.Fprintf(w, "best: no feasible trial yet: the %d complete trials all broke a constraint\n", r.Counts.Complete)
	default:
		fmt.Fprintln(w, "best: no completed trial yet")
	}
}

// BestOptions are the inputs of `mlops tune best`.
type BestOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Study   string
	Publish PushOptions // --push: the best trial's model into the registry, after the fact
}

// NewCmdBest builds `mlops tune best`.
func NewCmdBest(f *cmdutil.Factory, runF func(*BestOptions) error) *cobra.Command {
	opts := &BestOptions{IO: f.IO, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "best <study.yaml | journal>",
		Short: "Print the best trial (or the Pareto front) of a study",
		Long: `Print the best completed trial: its number, parameters and objective values.
With several objectives, the Pareto front: every completed trial no other trial
beats on all objectives.

--output json prints {"trial": N, "params": {...}, "values": {"METRIC": value},
"metrics": {...}, "state", "duration_s"}; with several objectives {"pareto": [such
objects]}. Exits 1 when no trial has completed yet.

--push NAME pushes the best trial's model (its artifact) as a new version of
NAME, with the trial's parameters and metrics in the manifest, once a study's
workers are done (tune run --push does it at the end of a run). --data and
--labels evaluate it with mlops eval first; --champion NAME@ALIAS is evaluated
on the same rows, and --promote-if 'accuracy>=champion+0.002' moves the --alias
only when it holds: otherwise the version is pushed, the alias stays, exit 3.`,
		Example: `  mlops tune best study.yaml
  mlops tune best study.yaml --output json | jq -r .params.lr

  # after the workers finish: push the best model, promote it only if it beats production
  mlops tune best study.yaml --push fmnist --alias production --champion fmnist@production \
      --promote-if 'accuracy>=champion+0.002' --data x_val.npy --labels y_val.npy`,
		Args: cmdutil.ExactArgs(1, "a study file or journal"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Study = args[0]
			if runF != nil {
				return runF(opts)
			}
			return bestRun(cmd.Context(), opts)
		},
	}
	opts.Publish.addFlags(f, cmd.Flags())
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, append([]string{"jsonl"}, cmdutil.ConfigExts...)...)
	return cmd
}

func bestRun(ctx context.Context, opts *BestOptions) error {
	if err := opts.Publish.check(); err != nil {
		return err
	}
	format, st, r, err := loadReport(ctx, opts.IO, opts.Format, opts.Study)
	if err != nil {
		return err
	}
	if r.Best == nil && len(r.Pareto) == 0 {
		if r.Counts.Infeasible > 0 {
			return fmt.Errorf("study %s has no feasible trial yet (%s): loosen constraints: or widen the search", st.Name, countsText(r.Counts))
		}
		return fmt.Errorf("study %s has no completed trial yet (%s)", st.Name, countsText(r.Counts))
	}
	if opts.Publish.Push != "" {
		return bestPush(ctx, opts, format, st, r)
	}
	if format == cmdutil.FormatJSON {
		if st.MultiObjective() {
			out := struct {
				Pareto []*trialJSON `json:"pareto"`
			}{}
			for _, t := range r.Pareto {
				out.Pareto = append(out.Pareto, toTrialJSON(r.Objectives, t))
			}
			return cmdutil.PrintJSON(opts.IO, out)
		}
		return cmdutil.PrintJSON(opts.IO, toTrialJSON(r.Objectives, r.Best))
	}
	if r.Best != nil {
		fmt.Fprintf(opts.IO.Out, "trial %d: %s\n", r.Best.Number, report.FormatValues(r.Objectives, r.Best))
		for _, k := range sortedKeys(r.Best.Params) {
			fmt.Fprintf(opts.IO.Out, "  %s = %v\n", k, formatValue(r.Best.Params[k]))
		}
		return nil
	}
	tb := cmdutil.NewTable(opts.IO, "TRIAL", "VALUES", "PARAMETERS")
	for _, t := range r.Pareto {
		tb.AddRow(fmt.Sprint(t.Number), report.FormatValues(r.Objectives, t), report.FormatParams(t.Params))
	}
	return tb.Render()
}

// bestPush is `tune best --push`: the best trial, then the evaluation and the push.
func bestPush(ctx context.Context, opts *BestOptions, format cmdutil.Format, st *study.Study, r *report.Report) error {
	p, err := opts.Publish.publish(ctx, opts.IO, st, r.Storage)
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		err = cmdutil.PrintJSON(opts.IO, struct {
			*trialJSON
			*pushed
		}{toTrialJSON(r.Objectives, r.Best), p})
	} else {
		fmt.Fprintf(opts.IO.Out, "trial %d: %s  %s\n", r.Best.Number, report.FormatValues(r.Objectives, r.Best), report.FormatParams(r.Best.Params))
		err = printPushed(opts.IO, p, r.Best)
	}
	if err != nil {
		return err
	}
	return opts.Publish.GateFailed(p.Push, p.Evaluation)
}
