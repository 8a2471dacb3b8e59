package eval

import (
	"fmt"
	"io"
	"strings"
)

// Row is one line of a two-column summary table.
type Row struct{ Name, Value string }

// SummaryRows are the headline metrics in a stable order (task metrics as
// named in Metrics, then operational ones).
func (r *Report) SummaryRows() []Row {
	var rows []Row
	for _, name := range r.Metrics.Names() {
		rows = append(rows, Row{name, FormatNum(r.Metrics[name])})
	}
	return rows
}

// ClassLabel is the per-class table's row label.
func ClassLabel(c int) string { return fmt.Sprintf("%d", c) }

// WriteMarkdown writes the report as a PR-comment body.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	status := ""
	if len(r.Gates) > 0 {
		status = " — gates passed ✅"
		if !r.GatesPassed() {
			status = " — gate failed ❌"
		}
	}
	fmt.Fprintf(&b, "### mlops eval: `%s`%s\n\n", r.Model, status)
	fmt.Fprintf(&b, "%s on `%s`, %d rows", r.Task, r.Data, r.Rows)
	if r.Classes > 0 {
		fmt.Fprintf(&b, ", %d classes", r.Classes)
	}
	b.WriteString("\n\n")
	if len(r.Gates) > 0 {
		b.WriteString("| gate | actual | threshold | result |\n|---|---:|---:|---|\n")
		for _, g := range r.Gates {
			res := "pass"
			if !g.Passed {
				res = "**FAIL**"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", g.Gate, FormatNum(g.Actual), FormatNum(g.Threshold), res)
		}
		b.WriteString("\n")
	}
	if c := r.Compare; c != nil {
		fmt.Fprintf(&b, "Compared with `%s` (bootstrap %d resamples, seed %d):\n\n", c.Baseline, c.Resamples, c.Seed)
		b.WriteString("| metric | model | baseline | delta | 95% CI |\n|---|---:|---:|---:|---|\n")
		for _, name := range sortedKeys(c.Deltas) {
			d := c.Deltas[name]
			fmt.Fprintf(&b, "| %s | %s | %s | %+.4f | [%s, %s] |\n", name, FormatNum(r.Metrics[name]), FormatNum(c.Metrics[name]),
				float64(d.Delta), FormatNum(d.CILow), FormatNum(d.CIHigh))
		}
		if c.McNemar != nil {
			fmt.Fprintf(&b, "\nMcNemar exact test: %d rows only the baseline got right, %d only the model, p = %.4g. Agreement %s.\n",
				c.McNemar.B, c.McNemar.C, c.McNemar.PValue, FormatNum(c.Agreement))
		}
		b.WriteString("\n")
	}
	b.WriteString("| metric | value |\n|---|---:|\n")
	for _, row := range r.SummaryRows() {
		fmt.Fprintf(&b, "| %s | %s |\n", row.Name, row.Value)
	}
	if len(r.PerClass) > 0 {
		b.WriteString("\n<details><summary>Per class</summary>\n\n| class | precision | recall | f1 | support | roc_auc | pr_auc |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range r.PerClass {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %s | %s |\n", c.Class, FormatNum(c.Precision), FormatNum(c.Recall),
				FormatNum(c.F1), c.Support, FormatNum(c.ROCAUC), FormatNum(c.PRAUC))
		}
		b.WriteString("\n</details>\n")
	}
	if len(r.Latency) > 0 {
		b.WriteString("\n| batch size | runs | p50 ms | p90 ms | p99 ms | rows/s |\n|---:|---:|---:|---:|---:|---:|\n")
		for _, l := range r.Latency {
			fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s |\n", l.BatchSize, l.Runs, FormatNum(l.P50MS), FormatNum(l.P90MS), FormatNum(l.P99MS), FormatNum(l.ThroughputRPS))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
