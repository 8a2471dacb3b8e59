package eval

import (
	"fmt"
	"strconv"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/eval"
)

func render(io *cmdutil.IOStreams, format cmdutil.Format, r *core.Report) error {
	switch format {
	case cmdutil.FormatJSON:
		return cmdutil.PrintJSON(io, r)
	case cmdutil.FormatMarkdown:
		return core.WriteMarkdown(io.Out, r)
	}
	fmt.Fprintf(io.Out, "%s: %s on %s, %d rows\n\n", r.Model, r.Task, r.Data, r.Rows)
	t := cmdutil.NewTable(io, "metric", "value")
	for _, row := range r.SummaryRows() {
		t.AddRow(row.Name, row.Value)
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(r.PerClass) > 0 {
		fmt.Fprintln(io.Out)
		t := cmdutil.NewTable(io, "class", "precision", "recall", "f1", "support", "roc_auc", "pr_auc")
		for _, c := range r.PerClass {
			t.AddRow(strconv.Itoa(c.Class), core.FormatNum(c.Precision), core.FormatNum(c.Recall),
				core.FormatNum(c.F1), strconv.FormatInt(c.Support, 10), core.FormatNum(c.ROCAUC), core.FormatNum(c.PRAUC))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.Latency) > 0 {
		fmt.Fprintln(io.Out)
		t := cmdutil.NewTable(io, "batch size", "runs", "p50 ms", "p90 ms", "p99 ms", "rows/s")
		for _, l := range r.Latency {
			t.AddRow(strconv.Itoa(l.BatchSize), strconv.Itoa(l.Runs), core.FormatNum(l.P50MS), core.FormatNum(l.P90MS),
				core.FormatNum(l.P99MS), core.FormatNum(l.ThroughputRPS))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if c := r.Compare; c != nil {
		fmt.Fprintf(io.Out, "\ncompared with %s (bootstrap %d resamples, seed %d)\n", c.Baseline, c.Resamples, c.Seed)
		t := cmdutil.NewTable(io, "metric", "model", "baseline", "delta", "95% ci")
		for _, name := range []string{"accuracy", "balanced_accuracy", "f1_macro", "f1", "roc_auc", "subset_accuracy", "f1_micro", "mae", "rmse", "r2"} {
			d, ok := c.Deltas[name]
			if !ok {
				continue
			}
			t.AddRow(name, core.FormatNum(r.Metrics[name]), core.FormatNum(c.Metrics[name]),
				fmt.Sprintf("%+.4f", float64(d.Delta)), fmt.Sprintf("[%s, %s]", core.FormatNum(d.CILow), core.FormatNum(d.CIHigh)))
		}
		if err := t.Render(); err != nil {
			return err
		}
		if c.McNemar != nil {
			fmt.Fprintf(io.Out, "McNemar exact: only baseline right %d, only model right %d, p=%.4g; agreement %s\n",
				c.McNemar.B, c.McNemar.C, c.McNemar.PValue, core.FormatNum(c.Agreement))
		}
	}
	if len(r.Gates) > 0 {
		fmt.Fprintln(io.Out)
		t := cmdutil.NewTable(io, "gate", "actual", "threshold", "result")
		for _, g := range r.Gates {
			res := "pass"
			if !g.Passed {
				res = "FAIL"
			}
			t.AddRow(g.Gate, core.FormatNum(g.Actual), core.FormatNum(g.Threshold), res)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		io.Statusf("note: %s", n) // a status message: --quiet leaves only the results
	}
	return nil
}
