package eval

import (
	"fmt"
	"strconv"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/monitor/evalreport"
)

func render(io *cmdutil.IOStreams, format cmdutil.Format, r *evalreport.Report) error {
	switch format {
	case cmdutil.FormatJSON:
		return cmdutil.PrintJSON(io, r)
	case cmdutil.FormatMarkdown:
		return evalreport.WriteMarkdown(io.Out, r)
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
			t.AddRow(strconv.Itoa(c.Class), evalreport.FormatNum(c.Precision), evalreport.FormatNum(c.Recall),
				evalreport.FormatNum(c.F1), strconv.FormatInt(c.Support, 10), evalreport.FormatNum(c.ROCAUC), evalreport.FormatNum(c.PRAUC))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.Latency) > 0 {
		fmt.Fprintln(io.Out)
		t := cmdutil.NewTable(io, "batch size", "runs", "p50 ms", "p90 ms", "p99 ms", "rows/s")
		for _, l := range r.Latency {
			t.AddRow(strconv.Itoa(l.BatchSize), strconv.Itoa(l.Runs), evalreport.FormatNum(l.P50MS), evalreport.FormatNum(l.P90MS),
				evalreport.FormatNum(l.P99MS), evalreport.FormatNum(l.ThroughputRPS))
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
			t.AddRow(name, evalreport.FormatNum(r.Metrics[name]), evalreport.FormatNum(c.Metrics[name]),
				fmt.Sprintf("%+.4f", float64(d.Delta)), fmt.Sprintf("[%s, %s]", evalreport.FormatNum(d.CILow), evalreport.FormatNum(d.CIHigh)))
		}
		if err := t.Render(); err != nil {
			return err
		}
		if c.McNemar != nil {
			fmt.Fprintf(io.Out, "McNemar exact: only baseline right %d, only model right %d, p=%.4g; agreement %s\n",
				c.McNemar.B, c.McNemar.C, c.McNemar.PValue, evalreport.FormatNum(c.Agreement))
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
			t.AddRow(g.Gate, evalreport.FormatNum(g.Actual), evalreport.FormatNum(g.Threshold), res)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(io.ErrOut, "note: %s\n", n)
	}
	return nil
}
