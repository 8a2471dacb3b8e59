// Package eval implements `mlops eval`: run a model on labelled data and
// report scikit-learn-compatible metrics, operational figures, a comparison
// with a baseline, CI gates, plots and an HTML report.
package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/metrics"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// EvalOptions are the inputs of `mlops eval`.
type EvalOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Runtime func() (*runtime.Runtime, error)
	Resolve func(context.Context, string) (string, error) // MODEL/BASELINE argument → local file

	Model, Baseline string
	Registry        string // --registry URL for MODEL/BASELINE references
	cmdutil.DataFlags

	Task, OutputName  string
	TopK              int
	Threshold         float64
	ZeroDivision      int
	Bootstrap         int
	Seed              uint64
	LatencyBatchSizes []int
	LatencyRuns       int
	NoLatency         bool
	Threads           int

	Gates      []string
	PlotsDir   string
	ReportFile string
}

// NewCmdEval builds `mlops eval`.
func NewCmdEval(f *cmdutil.Factory, runF func(*EvalOptions) error) *cobra.Command {
	opts := &EvalOptions{IO: f.IO, Format: f.OutputFormat, Runtime: f.Runtime}
	opts.Resolve = modelResolver(f, &opts.Registry)
	cmd := &cobra.Command{
		Use:   "eval <model.onnx> --data FILE [--labels FILE]",
		Short: "Measure a model on labelled data, compare it with a baseline, gate a release",
		Long: `Run an ONNX model on labelled data and report the metrics scikit-learn would
compute on the same predictions (same zero_division, averaging, tie handling
and log-loss clipping), operational figures, and optionally a comparison with
a baseline model and quality gates for CI.

Data (--data) is .npy, .npz, CSV, JSONL or Parquet, streamed in batches so
datasets larger than memory work. Arrays/columns are matched to the model's
inputs by name (or --columns / --input-field); rows are reshaped to the input
shape for table formats (and for arrays with --reshape). Labels come from
--labels (a .npy, or a CSV/JSONL/Parquet file with --label-column) or from
--label-column inside --data.

--task classification (default) reads N×K scores (softmax is applied when
rows do not sum to 1) and reports accuracy, balanced accuracy, precision/
recall/F1 (micro, macro, weighted; per class), confusion matrix, top-k
accuracy, one-vs-rest ROC-AUC and PR-AUC, log loss and expected calibration
error. --task binary reads P(positive) (or two columns), --task multilabel
N×K independent probabilities, --task regression one value per row (MAE,
MSE, RMSE, R², MAPE).

Operational figures: latency p50/p90/p99 at each --latency-batch-sizes
(after warm-up, on the first rows of the data), throughput, model size.

--compare BASELINE runs a second model on the same rows: deltas (model −
baseline) with seeded bootstrap 95% intervals, McNemar's exact test and the
agreement rate.

--gate 'METRIC OP VALUE' (repeatable) checks a metric from the report:
OP is >=, <=, >, <, == or !=; VALUE is a number, 'baseline' or
'baseline±N'. Latency gates (p50_latency_ms, p90_latency_ms,
p99_latency_ms, throughput_rows_per_s) use the first --latency-batch-sizes
entry (the evaluation's own batches with --no-latency); p99_latency_ms_b32
names batch size 32. A failed gate prints the report, names the gate and exits 3.

--plots DIR writes confusion matrix, ROC, PR, reliability and latency
plots as PNG and SVG; --report FILE.html writes one self-contained page
(--report - writes it to standard output instead of the table); both replace
files of the same name, and refuse a target that is not a regular file (a
device, FIFO or symbolic link). --output markdown prints a PR-comment body.

MODEL and BASELINE are .onnx files or registry references (NAME,
NAME@VERSION, NAME@ALIAS) when a registry is configured (registry in the
config file or MLOPS_REGISTRY); references are pulled into the user cache
once and reused.`,
		Example: `  # accuracy and friends on the Fashion-MNIST test set
  mlops eval testdata/fmnist/mlp.onnx --data testdata/fmnist/x_test.npy --labels testdata/fmnist/y_test.npy

  # CI: compare with the production model and fail on regressions
  mlops eval cnn.onnx --data x.npy --labels y.npy --compare mlp.onnx \
      --gate 'accuracy>=0.85' --gate 'f1_macro>=baseline-0.01' --gate 'p99_latency_ms<=20'

  # CSV with a label column, images scaled to [0,1], HTML report and plots
  mlops eval model.onnx --data test.csv --label-column label --scale 0.00392156862745098 \
      --report report.html --plots plots/

  # JSON for scripts
  mlops eval model.onnx --data x.npy --labels y.npy --output json | jq .metrics.accuracy`,
		Args: cmdutil.ExactArgs(1, "a model to evaluate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if opts.NoLatency {
				opts.LatencyBatchSizes = nil
			}
			if runF != nil {
				return runF(opts)
			}
			return evalRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.DataFlags.AddFlags(fl, cmdutil.DataFlagsConfig{Data: "evaluation data (required)", Limit: "evaluate only the first N rows (0: all)"})
	fl.StringVar(&opts.Task, "task", "classification", "classification, binary, multilabel or regression")
	fl.StringVar(&opts.OutputName, "output-name", "", "model output to score (default: the first)")
	fl.IntVar(&opts.TopK, "top-k", 5, "k of the top-k accuracy (classification)")
	fl.Float64Var(&opts.Threshold, "threshold", 0.5, "decision threshold for binary and multilabel: predict 1 when p > threshold")
	fl.IntVar(&opts.ZeroDivision, "zero-division", 0, "value of precision/recall when undefined: 0 (sklearn default) or 1")
	fl.IntVar(&opts.Bootstrap, "bootstrap", 1000, "bootstrap resamples for --compare confidence intervals")
	fl.Uint64Var(&opts.Seed, "seed", 1, "bootstrap seed (same seed, same intervals)")
	fl.IntSliceVar(&opts.LatencyBatchSizes, "latency-batch-sizes", []int{1}, "batch sizes to time after the evaluation")
	fl.BoolVar(&opts.NoLatency, "no-latency", false, "skip the latency measurement (the evaluation run's own batches are still timed)")
	fl.IntVar(&opts.LatencyRuns, "latency-runs", 50, "timed runs per latency batch size")
	fl.IntVar(&opts.Threads, "threads", 0, "ONNX Runtime intra-op threads (0: one per core)")
	fl.StringVar(&opts.Baseline, "compare", "", "baseline model to compare with on the same data")
	fl.StringVar(&opts.Registry, "registry", "", "registry for MODEL/BASELINE references (also: MLOPS_REGISTRY, config key registry; default: the local file registry)")
	fl.StringArrayVar(&opts.Gates, "gate", nil, "quality gate 'METRIC OP VALUE', e.g. 'accuracy>=0.85' (repeatable)")
	fl.StringVar(&opts.PlotsDir, "plots", "", "write PNG and SVG plots into this directory")
	fl.StringVar(&opts.ReportFile, "report", "", "write a self-contained HTML report to this file (- for standard output)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefAny, true)
	cmdutil.CompleteModelRefs(f, cmd, "compare", true)
	cmdutil.CompleteFiles(fl, "report", "html")
	cmdutil.CompleteEnum(cmd, "task", "classification", "binary", "multilabel", "regression")
	return cmd
}

// request is the evaluation the flags ask for (model paths resolved).
func (o *EvalOptions) request(task core.Task, gates []gate.Expr) core.Request {
	req := core.Request{
		Model: core.Model{Path: o.Model},
		Data:  o.Spec(),
		Task:  task, OutputName: o.OutputName,
		Metrics:           core.Options{ZeroDivision: metrics.ZeroDivision(o.ZeroDivision), Threshold: o.Threshold, TopK: o.TopK},
		LatencyBatchSizes: o.LatencyBatchSizes, LatencyRuns: o.LatencyRuns,
		Bootstrap: o.Bootstrap, Seed: o.Seed, Gates: gates,
		Session: runtime.SessionOptions{IntraOpThreads: o.Threads},
	}
	if o.Baseline != "" {
		req.Baseline = &core.Model{Path: o.Baseline}
	}
	return req
}

// validate checks the flags before any model is loaded; errors are usage
// errors (exit 2).
func (o *EvalOptions) validate() (core.Task, []gate.Expr, error) {
	task, ok := core.ParseTask(o.Task)
	if !ok {
		return "", nil, cmdutil.FlagErrorf("invalid --task %q: use classification, binary, multilabel or regression", o.Task)
	}
	if err := o.RequireLabelled(); err != nil {
		return "", nil, err
	}
	if err := o.DataFlags.Validate(true); err != nil {
		return "", nil, err
	}
	if err := cmdutil.FirstError(
		cmdutil.Positive(cmdutil.Flag("top-k", o.TopK), cmdutil.Flag("bootstrap", o.Bootstrap), cmdutil.Flag("latency-runs", o.LatencyRuns)),
		cmdutil.NotNegative(cmdutil.Flag("threads", o.Threads)),
	); err != nil {
		return "", nil, err
	}
	if o.ZeroDivision != 0 && o.ZeroDivision != 1 {
		return "", nil, cmdutil.FlagErrorf("--zero-division must be 0 or 1, got %d", o.ZeroDivision)
	}
	if o.Threshold <= 0 || o.Threshold >= 1 {
		return "", nil, cmdutil.FlagErrorf("--threshold must lie strictly between 0 and 1, got %v", o.Threshold)
	}
	for _, bs := range o.LatencyBatchSizes {
		if bs <= 0 {
			return "", nil, cmdutil.FlagErrorf("--latency-batch-sizes must be positive, got %d", bs)
		}
	}
	var gates []gate.Expr
	for _, expr := range o.Gates {
		g, err := core.ParseGate(expr)
		if err != nil {
			return "", nil, cmdutil.FlagErrorf("%v", err)
		}
		if g.Ref != "" && o.Baseline == "" {
			return "", nil, cmdutil.FlagErrorf("gate %q compares with the baseline: pass --compare BASELINE", expr)
		}
		gates = append(gates, g)
	}
	return task, gates, nil
}

func evalRun(ctx context.Context, o *EvalOptions) error {
	format, err := o.Format()
	if err != nil {
		return err
	}
	task, gates, err := o.validate()
	if err != nil {
		return err
	}
	if o.PlotsDir == cmdutil.StdoutPath {
		return cmdutil.FlagErrorf("--plots -: plots are a folder of PNG and SVG files, not one stream; give a folder (--report - puts them on standard output in the HTML page)")
	}
	reportToStdout, err := cmdutil.CheckReportFiles(format, cmdutil.ReportFile{Flag: "--report", Path: o.ReportFile})
	if err != nil {
		return err
	}
	if err := cmdutil.CheckOutputDir("--plots", o.PlotsDir); err != nil {
		return err
	}
	if o.Resolve != nil {
		if o.Model, err = o.Resolve(ctx, o.Model); err != nil {
			return err
		}
		if o.Baseline != "" {
			if o.Baseline, err = o.Resolve(ctx, o.Baseline); err != nil {
				return fmt.Errorf("--compare: %w", err)
			}
		}
	}
	rt, err := o.Runtime()
	if err != nil {
		return err
	}
	req := o.request(task, gates)
	var finish func()
	req.Progress, finish = cmdutil.DataProgress(o.IO)
	report, err := core.Run(ctx, rt, req)
	finish()
	var um *gate.UnknownMetricError
	if errors.As(err, &um) {
		return cmdutil.FlagErrorf("%v", err) // a typo in --gate is a usage error
	}
	if err != nil {
		return err
	}
	if o.PlotsDir != "" {
		files, err := core.WritePlots(ctx, report, o.PlotsDir)
		if err != nil {
			return fmt.Errorf("--plots: %w", err)
		}
		report.Notes = append(report.Notes, fmt.Sprintf("wrote %d plot files to %s", len(files), o.PlotsDir))
	}
	switch o.ReportFile {
	case "":
	case cmdutil.StdoutPath:
		page, err := core.HTML(ctx, report)
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		if _, err := o.IO.Out.Write(page); err != nil {
			return err
		}
	default:
		if err := core.WriteHTML(ctx, report, o.ReportFile); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if reportToStdout == "" { // else the page is the output: the table would corrupt it
		if err := render(o.IO, format, report); err != nil {
			return err
		}
	}
	if failed := report.FailedGates(); len(failed) > 0 {
		return cmdutil.GateErrorf("quality gate failed: %s", strings.Join(failed, "; "))
	}
	return nil
}
