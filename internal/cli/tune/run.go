package tune

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	coretune "github.com/mlops-dev/mlops/internal/tune"
	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/pruner"
	"github.com/mlops-dev/mlops/internal/tune/report"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// RunOptions are the inputs of `mlops tune run`.
type RunOptions struct {
	Factory *cmdutil.Factory // builds the commands of in-process trials (quantize, prune, ...)
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Environ []string // what command trials start from

	StudyFile   string
	Worker      bool
	WorkerID    string
	Trials      int
	Time        time.Duration
	Parallelism int
	Sampler     string
	Seed        uint64
	Pruner      string
	Storage     string
	Heartbeat   time.Duration
	Artifacts   string
	PlotsDir    string
	ReportFile  string
	Publish     PushOptions // --push NAME [--alias A] [--champion REF --promote-if EXPR --data X --labels Y]

	changed func(string) bool
}

// NewCmdRun builds `mlops tune run`.
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{Factory: f, IO: f.IO, Format: f.OutputFormat, Environ: os.Environ()}
	cmd := &cobra.Command{
		Use:   "run <study.yaml>",
		Short: "Run (or resume) a study: sample, run and record trials until the budget is met",
		Long: `Run the trials of a study file until budget.trials trials (complete or pruned,
counted over the whole study, resumes and other workers included) are done,
budget.time has passed, the grid is exhausted, or three trials fail in a row
(exit 1 with the last one's output). Running it again resumes the study; a
journal that belongs to another study, or a changed search space, is refused.

Each trial runs trial.command with ${param} replaced in its arguments and
trial.env, in its own process group, with trial.timeout. It reports metrics as
lines 'mlops-metric NAME=VALUE [step=N]' on stdout (step lines feed the pruner)
or as a JSON object in $MLOPS_METRICS_FILE. A trial that reports no value for an
objective, or NaN/inf, fails with the last lines of its output.

trial: quantize: and trial: prune: run those commands in process instead, their
flags as keys (model: is the input; ${param} allowed in values; a list repeats a
flag). The trial writes model.onnx into its folder and eval judges it on data:
and labels: against the float model (evaluated once per run): accuracy (and
eval's other metrics), accuracy_fp32, accuracy_drop, size_bytes, size_ratio,
latency_ms, latency_ms_fp32; prune adds sparsity, quantize fallback_layers.
quantize's fallback: N leaves in float the N layers whose quantization costs the
most accuracy (ranked once per run). constraints: ["accuracy_drop<=0.003"] make a
trial that breaks them infeasible: COMPLETE, never the best.

trial: retrain: runs mlops retrain in process, its flags as keys (lr: "${lr}",
batch-size: "${batch}"; val-data: or val-split: required). After every epoch the
first objective's value (val_accuracy, val_loss or train_loss) goes to the
pruner, and a pruned trial stops there; metrics: val_accuracy, val_loss,
train_loss (of the written epoch), epochs, best_epoch, train_seconds, and eval's
metrics when an objective names one.

--worker makes this process one of several sharing the study (same journal file
or blob URL, on one or many machines): each runs --parallelism trials (default 1),
parallel samplers avoid each other (constant liar), and a trial whose worker
stops sending heartbeats is failed and its parameters re-run once.

On a terminal, a live table of trials and the best so far; plain lines otherwise.
Ctrl-C stops launching trials, cancels running ones and records them (they are
re-run on resume); a second Ctrl-C exits at once. Exit 130.

--push NAME, when the run ends on its own, pushes the best trial's model (what an
in-process trial writes, or the model.onnx a command trial leaves in
$MLOPS_MODEL_FILE) as a new version of NAME with the trial's parameters and
metrics in its manifest, as retrain --push does: --data/--labels evaluate it with
mlops eval, --champion NAME@ALIAS is evaluated on the same rows, and
--promote-if 'accuracy>=champion+0.002' moves the --alias only when it holds;
otherwise the version is pushed, the alias stays, and the exit code is 3.

Flags override the study file for one run.`,
		Example: `  mlops tune run study.yaml
  mlops tune run study.yaml --trials 200 --parallelism 4

  # study.yaml's trial: is one of
  #   command: [python3, train.py, --lr, "${lr}"]
  #   quantize: {model: cnn.onnx, per-channel: all, fallback: "${fallback}", data: x.npy, labels: y.npy}
  #   prune: {model: mlp.onnx, sparsity: "${sparsity}", scope: global, data: x.npy, labels: y.npy}
  # with, for "the smallest model within 0.3 pp": constraints: ["accuracy_drop<=0.003"]
  mlops tune run --worker study.yaml          # on each of N machines, storage: s3://...
  mlops tune run study.yaml --output json --report study.html

  # ASHA over retrain's learning rate and batch size for the testdata MLP
  mlops tune run testdata/tune/retrain-asha.yaml

  # push the best model; move production only if it beats the model there
  mlops tune run study.yaml --push fmnist --alias production --champion fmnist@production \
      --promote-if 'accuracy>=champion+0.002' --data x_val.npy --labels y_val.npy`,
		Args: cmdutil.ExactArgs(1, "a study file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StudyFile, opts.changed = args[0], cmd.Flags().Changed
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Worker, "worker", false, "join the study as one of several worker processes")
	fl.StringVar(&opts.WorkerID, "worker-id", "", "this worker's name in the journal (default host-pid-random)")
	fl.IntVar(&opts.Trials, "trials", 0, "budget.trials: the study's total of complete and pruned trials")
	fl.DurationVar(&opts.Time, "time", 0, "budget.time: stop launching trials after this long")
	fl.IntVar(&opts.Parallelism, "parallelism", 0, "trials this process runs at once (default: the study's, 1 with --worker)")
	fl.StringVar(&opts.Sampler, "sampler", "", "sampler: grid, random, tpe, cmaes or nsga2")
	fl.Uint64Var(&opts.Seed, "seed", 0, "sampler seed (a new study only: the journal keeps its seed)")
	fl.StringVar(&opts.Pruner, "pruner", "", "pruner: none, median or asha")
	fl.StringVar(&opts.Storage, "storage", "", "journal: a path or s3://, gs://, azblob://, file:// URL")
	fl.DurationVar(&opts.Heartbeat, "heartbeat", 0, "how often running trials' leases are renewed (default 10s; lost after 1.5×)")
	fl.StringVar(&opts.Artifacts, "artifacts", "", "folder for per-trial folders (default <study>.trials next to the journal)")
	fl.StringVar(&opts.PlotsDir, "plots", "", "at the end, write PNG and SVG plots into this directory")
	fl.StringVar(&opts.ReportFile, "report", "", "at the end, write a self-contained HTML report to this file")
	opts.Publish.addFlags(f, fl)
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, cmdutil.ConfigExts...)
	cmdutil.CompleteEnum(cmd, "sampler", "grid", "random", "tpe", "cmaes", "nsga2")
	cmdutil.CompleteEnum(cmd, "pruner", "none", "median", "asha")
	cmdutil.CompleteFiles(fl, "report", "html")
	return cmd
}

// applyFlags lets flags override the study file.
func (o *RunOptions) applyFlags(spec *coretune.Spec) error {
	if o.changed == nil {
		o.changed = func(string) bool { return false }
	}
	if o.changed("trials") {
		if o.Trials < 0 {
			return cmdutil.FlagErrorf("--trials must be positive")
		}
		spec.Budget.Trials = o.Trials
	}
	if o.changed("time") {
		spec.Budget.Time = o.Time
	}
	if o.changed("parallelism") && o.Parallelism < 1 {
		return cmdutil.FlagErrorf("--parallelism must be at least 1")
	}
	if o.changed("sampler") {
		spec.Sampler.Name = o.Sampler
		if _, err := sampler.New(spec.Sampler, spec.Space, spec.Objectives); err != nil {
			return cmdutil.FlagErrorf("--sampler: %v", err)
		}
	}
	if o.changed("seed") {
		spec.Sampler.Seed, spec.SeedSet = o.Seed, true
	}
	if o.changed("pruner") {
		spec.Pruner.Name = o.Pruner
		if _, err := pruner.New(spec.Pruner); err != nil {
			return cmdutil.FlagErrorf("--pruner: %v", err)
		}
	}
	if o.changed("storage") {
		spec.Storage = o.Storage
	}
	if o.changed("heartbeat") {
		if o.Heartbeat <= 0 {
			return cmdutil.FlagErrorf("--heartbeat must be positive")
		}
		spec.Heartbeat = o.Heartbeat
	}
	return nil
}

func runRun(ctx context.Context, opts *RunOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	if err := checkArtifacts(opts.PlotsDir, opts.ReportFile); err != nil {
		return err
	}
	if err := opts.Publish.check(); err != nil {
		return err
	}
	if opts.Worker && opts.Publish.Push != "" {
		return cmdutil.FlagErrorf("--push with --worker would push once per worker: when the workers are done, push once with 'mlops tune best STUDY --push NAME'")
	}
	spec, err := loadSpec(opts.StudyFile)
	if err != nil {
		return err
	}
	if err := opts.applyFlags(spec); err != nil {
		return err
	}
	j, err := journal.Open(ctx, spec.Storage, journal.Options{})
	if err != nil {
		return err
	}
	defer j.Close()
	parallelism := opts.Parallelism
	if parallelism == 0 && opts.Worker {
		parallelism = 1
	}
	prog := newProgress(opts.IO, spec.Objectives)
	obj, killAll, err := objectiveFor(ctx, opts.Factory, spec, opts.Environ)
	if err != nil {
		return err
	}
	// A second Ctrl-C exits at once: take command trials' process groups down with us.
	defer cmdutil.OnForcedExit(ctx, killAll)()
	r, err := coretune.NewRunner(ctx, spec, j, obj, coretune.RunOptions{Worker: opts.WorkerID, Parallelism: parallelism,
		Shared: opts.Worker, ArtifactsDir: opts.Artifacts, Events: prog.event})
	if err != nil {
		return err
	}
	for _, w := range j.Warnings() {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	budget := "no trial budget"
	if spec.Budget.Trials > 0 {
		budget = fmt.Sprintf("budget %d trials", spec.Budget.Trials)
	}
	opts.IO.Statusf("study %s: journal %s, sampler %s, %s, worker %s", spec.Study, j.Location(), spec.Sampler.Name, budget, r.Worker())
	sum, runErr := r.Run(ctx)
	if sum == nil {
		return runErr
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	// The summary and artifacts come from the journal as it is now, interrupted or not.
	actx := context.WithoutCancel(ctx)
	var out *runJSON
	var rep *report.Report
	var final *study.Study
	err = j.View(actx, func(st *study.Study) error {
		rep = report.Build(st, j.Location(), time.Now())
		out = &runJSON{statusJSON: buildStatus(rep, st)}
		final = st
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeArtifacts(actx, opts.IO, rep, opts.PlotsDir, opts.ReportFile); err != nil {
		return err
	}
	out.Stopped, out.Ran = string(sum.Reason), &sum.Ran
	// Only a run that ended on its own pushes: not an interrupted one, nor one stopped by failures.
	if opts.Publish.Push != "" && runErr == nil {
		if out.pushed, err = opts.Publish.publish(ctx, opts.IO, final, j.Location()); err != nil {
			return err
		}
	}
	if format == cmdutil.FormatJSON {
		if err := cmdutil.PrintJSON(opts.IO, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "study %s stopped (%s) after %d trials in this run; %s\n", spec.Study, stopText(sum.Reason), sum.Ran, countsText(rep.Counts))
		printBest(opts.IO.Out, rep)
		if err := printPushed(opts.IO, out.pushed, rep.Best); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if out.pushed != nil {
		return opts.Publish.GateFailed(out.pushed.Push, out.pushed.Evaluation)
	}
	return nil
}

// runJSON is `tune run --output json`: the status, why it stopped, and the push.
type runJSON struct {
	*statusJSON
	*pushed
}

func stopText(r coretune.StopReason) string {
	return map[coretune.StopReason]string{
		coretune.StopBudget: "budget reached", coretune.StopTime: "time budget used", coretune.StopExhausted: "grid exhausted",
		coretune.StopFailures: "trials failed in a row", coretune.StopInterrupted: "interrupted"}[r]
}

func sortedKeys(p space.Params) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func formatValue(v any) string { return space.FormatValue(v) }
