// Package monitor implements `mlops monitor`: drift and live quality of a served model from the
// payload logs `mlops serve` writes, with table/JSON/Markdown output, an HTML report, Prometheus
// metrics and exit code 3 when drift or a gate fires. The work is done by internal/monitor.
package monitor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/gate"
	core "github.com/mlops-dev/mlops/internal/monitor"
)

// MonitorOptions are the inputs of `mlops monitor`.
type MonitorOptions struct {
	IO     *cmdutil.IOStreams
	Format func() (cmdutil.Format, error)
	Now    func() time.Time

	Reference     string
	Current       string
	Labels        string
	RefLabels     string
	Window        time.Duration
	Model         string
	PredOutput    string
	Since, Until  string
	Method        string
	Threshold     float64
	DriftShare    float64
	ReferenceRows int
	Gates         []string
	FailOnDrift   bool
	Report        string
	Textfile      string
	Push          string
	PushTimeout   time.Duration
	FeatureMetric bool
	MaxFeatures   int
}

// NewCmdMonitor builds `mlops monitor`.
func NewCmdMonitor(f *cmdutil.Factory, runF func(*MonitorOptions) error) *cobra.Command {
	opts := &MonitorOptions{IO: f.IO, Format: f.OutputFormat, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "monitor --reference REF --current PAYLOAD_LOGS",
		Short: "Detect drift and measure live accuracy from serve's payload logs",
		Long: `Compare what a served model sees in production with a reference sample, and
score its predictions against ground truth that arrives later.

--current is the payload-log folder 'mlops serve' writes (or one .jsonl[.gz]
file, or a blob URL such as file:///var/log/mlops/fmnist). Malformed lines are
skipped and counted, never fatal. --reference is either a dataset (.npy, .npz,
CSV, JSONL, Parquet; arrays matched to the model inputs by name) or payload logs
from a known-good period; with logs as reference, the predicted-class
distribution is compared too. With a dataset reference, --reference-labels
(its true classes) lets the predicted-class distribution be compared with them.

Every input element is a feature (input[0] ... input[783] for a 28x28 image).
The statistic per feature follows Evidently's defaults (see docs/monitor.md):
reference <= 1000 rows: Kolmogorov-Smirnov for numerical features, chi-square
(or a two-proportion Z-test for two values) for categorical ones, drift when
p < 0.05; larger references: Wasserstein distance normalised by the reference
standard deviation (numerical) or Jensen-Shannon distance (categorical), drift
when >= 0.1. PSI is reported for every feature. The dataset drifts when at
least --drift-share of the features drift.

--labels joins delayed ground truth by request id (JSONL {"request_id","label"}
or CSV request_id,label) and reports accuracy and macro precision/recall/F1
overall and per --window.

Gates (--gate, repeatable) are METRIC OP VALUE with OP one of >= <= > < == !=;
metrics: accuracy, precision_macro, recall_macro, f1_macro, min_accuracy,
labelled_rows, drift_share, drifted_features, prediction_score, skipped_share.

--report and --textfile replace the file they name on every run; - writes it to
standard output instead, and the summary is then left out. A target that is not
a regular file (a device, FIFO, folder or symbolic link) is refused.

--output json prints one object with the fields generated_at, model,
reference, current (path, rows, from, to, logs), drift (columns,
drifted_columns, drift_share, drift_share_threshold, dataset_drift, features
[name, kind, method, statistic, p_value, score, threshold, drifted, psi,
reference_mean, current_mean, reference_std, current_std, reference_rows,
current_rows]), prediction_drift, quality (labelled_rows, unlabelled_rows,
unmatched_labels, label_count_mismatches, window, overall, windows) and gates
(gate, metric, actual, passed, reason), and warnings when there are any.
--output markdown prints a PR-comment body.

Exit code 3 means dataset or prediction drift (unless --fail-on-drift=false)
or a failed --gate; outputs (report, metrics) are still written.`,
		Example: `  # Drift of the last day against the test set, with an HTML report
  mlops monitor --reference testdata/fmnist/x_test.npy --reference-labels testdata/fmnist/y_test.npy \
    --current /var/log/mlops/fmnist --since 24h --report drift.html

  # Live accuracy per hour from delayed labels; fail when it drops
  mlops monitor --reference ref.npy --current logs/ --labels labels.jsonl \
    --gate 'accuracy>=0.85' --gate 'min_accuracy>=0.8'

  # From cron: metrics for node_exporter's textfile collector
  mlops monitor --reference ref.npy --current logs/ --textfile /var/lib/node_exporter/mlops.prom

  # Push to a Pushgateway and comment on a PR
  mlops monitor --reference ref.npy --current logs/ --push http://pushgateway:9091 --output markdown`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.Reference == "":
				return cmdutil.FlagErrorf("--reference is required: the data (or payload logs) to compare with")
			case opts.Current == "":
				return cmdutil.FlagErrorf("--current is required: the payload logs to check (folder, .jsonl[.gz] file or blob URL)")
			}
			if runF != nil {
				return runF(opts)
			}
			return monitorRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Reference, "reference", "", "reference data (.npy/.npz/.csv/.jsonl/.parquet) or payload logs")
	fl.StringVar(&opts.Current, "current", "", "payload logs: folder, .jsonl[.gz] file, or blob URL")
	fl.StringVar(&opts.RefLabels, "reference-labels", "", "true classes of a dataset reference (.npy, CSV, ...): compare the predicted-class distribution with them")
	fl.StringVar(&opts.Labels, "labels", "", "delayed labels: .jsonl {request_id,label} or .csv request_id,label")
	fl.DurationVar(&opts.Window, "window", time.Hour, "time window for live quality")
	fl.StringVar(&opts.Model, "model", "", "only records of this model (needed when the logs hold several)")
	fl.StringVar(&opts.PredOutput, "prediction-output", "", "output tensor holding scores or the class (default: the first output)")
	fl.StringVar(&opts.Since, "since", "", "only records at or after this time: RFC 3339, or a duration back from now (24h)")
	fl.StringVar(&opts.Until, "until", "", "only records before this time: RFC 3339, or a duration back from now")
	fl.StringVar(&opts.Method, "method", "auto", "drift statistic for every feature: auto, ks, chisquare, z, wasserstein, jensenshannon, psi")
	fl.Float64Var(&opts.Threshold, "threshold", 0, "drift threshold (p-value for tests, distance otherwise); 0: the method's default")
	fl.Float64Var(&opts.DriftShare, "drift-share", core.DefaultDriftShare, "share of drifted features that makes the dataset drift")
	fl.IntVar(&opts.ReferenceRows, "reference-rows", 0, "read at most this many reference rows (0: all)")
	fl.StringArrayVar(&opts.Gates, "gate", nil, "quality gate METRIC OP VALUE, e.g. 'accuracy>=0.9' (repeatable)")
	fl.BoolVar(&opts.FailOnDrift, "fail-on-drift", true, "exit 3 when the dataset or the predictions drift")
	fl.StringVar(&opts.Report, "report", "", "write a self-contained HTML report to this file (- for standard output)")
	fl.StringVar(&opts.Textfile, "textfile", "", "write Prometheus metrics to this file, node_exporter's textfile collector format (- for standard output)")
	fl.StringVar(&opts.Push, "push", "", "push Prometheus metrics to this Pushgateway URL")
	fl.DurationVar(&opts.PushTimeout, "push-timeout", 30*time.Second, "timeout for --push")
	fl.BoolVar(&opts.FeatureMetric, "feature-metrics", false, "add per-feature series to --textfile/--push (one per input element)")
	fl.IntVar(&opts.MaxFeatures, "max-features", 20, "features listed in table, markdown and HTML output, most drifted first (0: all)")
	cmdutil.CompleteFiles(fl, "reference", cmdutil.DataExts...)
	cmdutil.CompleteFiles(fl, "reference-labels", cmdutil.LabelsExts...)
	cmdutil.CompleteFiles(fl, "report", "html")
	cmdutil.CompleteFiles(fl, "textfile", "prom")
	cmdutil.CompleteEnum(cmd, "method", "auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")
	return cmd
}

func monitorRun(ctx context.Context, opts *MonitorOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	req, err := coreRequest(opts)
	if err != nil {
		return err
	}
	toStdout, err := cmdutil.CheckReportFiles(format, cmdutil.ReportFile{Flag: "--report", Path: opts.Report},
		cmdutil.ReportFile{Flag: "--textfile", Path: opts.Textfile})
	if err != nil {
		return err
	}
	opts.IO.Statusf("reading %s and %s", opts.Current, opts.Reference)
	r, err := core.Run(ctx, req)
	if err != nil {
		return err
	}
	if s := r.Current.Logs; s.Skipped > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "warning: skipped %d of %d payload-log lines; first: %s\n", s.Skipped, s.Lines, s.Examples[0])
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	if q := r.Quality; q != nil && q.CountMismatches > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %d requests not scored because their label count differs (%s)\n", q.CountMismatches, q.MismatchExample)
	}
	mopts := core.MetricsOptions{PerFeature: opts.FeatureMetric}
	hopts := core.HTMLOptions{MaxFeatures: opts.MaxFeatures}
	switch opts.Report {
	case "":
	case cmdutil.StdoutPath:
		page, err := r.HTML(hopts)
		if err != nil {
			return err
		}
		if _, err := opts.IO.Out.Write(page); err != nil {
			return err
		}
	default:
		if err := r.WriteHTML(opts.Report, hopts); err != nil {
			return err
		}
		opts.IO.Statusf("wrote %s", opts.Report)
	}
	switch opts.Textfile {
	case "":
	case cmdutil.StdoutPath:
		if err := r.WriteMetrics(opts.IO.Out, mopts); err != nil {
			return err
		}
	default:
		if err := r.WriteTextfile(opts.Textfile, mopts); err != nil {
			return err
		}
		opts.IO.Statusf("wrote %s", opts.Textfile)
	}
	if opts.Push != "" {
		pctx, cancel := context.WithTimeout(ctx, opts.PushTimeout)
		err := r.Push(pctx, opts.Push, &http.Client{}, mopts)
		cancel()
		if err != nil {
			return err
		}
		opts.IO.Statusf("pushed metrics to %s", opts.Push)
	}
	switch {
	case toStdout != "":
		// The file written to standard output is the output; the summary would corrupt it.
	case format == cmdutil.FormatJSON:
		err = cmdutil.PrintJSON(opts.IO, r)
	case format == cmdutil.FormatMarkdown:
		err = r.WriteMarkdown(opts.IO.Out, opts.MaxFeatures)
	default:
		err = render(opts.IO, r, opts.MaxFeatures)
	}
	if err != nil {
		return err
	}
	if failed, why := r.Failed(opts.FailOnDrift); failed {
		return cmdutil.GateErrorf("%s", why)
	}
	return nil
}

// coreOptions validates the flags and turns them into internal/monitor options.
func coreRequest(opts *MonitorOptions) (core.Request, error) {
	method, err := core.ParseMethod(opts.Method)
	if err != nil {
		return core.Request{}, &cmdutil.FlagError{Err: err}
	}
	if opts.Window <= 0 {
		return core.Request{}, cmdutil.FlagErrorf("--window %v must be positive", opts.Window)
	}
	if opts.Threshold < 0 {
		return core.Request{}, cmdutil.FlagErrorf("--threshold %v must not be negative", opts.Threshold)
	}
	if opts.DriftShare <= 0 || opts.DriftShare > 1 {
		return core.Request{}, cmdutil.FlagErrorf("--drift-share %v must be in (0,1]", opts.DriftShare)
	}
	if err := cmdutil.NotNegative(cmdutil.Flag("reference-rows", opts.ReferenceRows), cmdutil.Flag("max-features", opts.MaxFeatures)); err != nil {
		return core.Request{}, err
	}
	var gates []gate.Expr
	for _, g := range opts.Gates {
		parsed, err := core.ParseGate(g)
		if err != nil {
			return core.Request{}, &cmdutil.FlagError{Err: err}
		}
		gates = append(gates, parsed)
	}
	if opts.Push != "" && !strings.HasPrefix(opts.Push, "http://") && !strings.HasPrefix(opts.Push, "https://") {
		return core.Request{}, cmdutil.FlagErrorf("--push %q must be an http:// or https:// Pushgateway URL", opts.Push)
	}
	now := opts.Now()
	since, err := parseTime("--since", opts.Since, now)
	if err != nil {
		return core.Request{}, err
	}
	until, err := parseTime("--until", opts.Until, now)
	if err != nil {
		return core.Request{}, err
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return core.Request{}, cmdutil.FlagErrorf("--since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return core.Request{
		Reference: opts.Reference, ReferenceLabels: opts.RefLabels, Current: opts.Current, Labels: opts.Labels, Window: opts.Window,
		Model: opts.Model, Output: opts.PredOutput, Since: since, Until: until, ReferenceRows: opts.ReferenceRows,
		Drift: core.DriftOptions{Method: method, Threshold: opts.Threshold, DriftShare: opts.DriftShare},
		Gates: gates, Now: opts.Now,
	}, nil
}

// parseTime accepts RFC 3339 or a duration meaning that long before now.
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, cmdutil.FlagErrorf("%s %q: use RFC 3339 (2026-11-28T10:00:00Z) or a duration back from now (24h)", flag, s)
}
