package monitor

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/monitor"
)

// render prints the report as tables for a terminal or a pipe.
func render(io *cmdutil.IOStreams, r *core.Report, maxFeatures int) error {
	out := io.Out
	cmdutil.Heading(io, "Drift: "+r.Model)
	fmt.Fprintln(out, r.Summary())
	fmt.Fprintf(out, "current %s (%s .. %s), reference %s (%s)\n", r.Current.Path,
		r.Current.From.Format("2006-01-02T15:04:05Z"), r.Current.To.Format("2006-01-02T15:04:05Z"), r.Reference.Path, r.Reference.Kind)
	if pd := r.PredictionDrift; pd != nil {
		fmt.Fprintf(out, "prediction drift: %s (%s %s, threshold %s)\n", yesNo(pd.Drifted), pd.Method, core.FormatScore(pd.Score), core.FormatScore(pd.Threshold))
	}
	fmt.Fprintln(out)
	t := cmdutil.NewTable(io, "feature", "kind", "method", "score", "threshold", "drifted", "psi", "ref mean", "cur mean")
	fs := r.TopFeatures(maxFeatures)
	for _, f := range fs {
		t.AddRow(f.Name, string(f.Kind), string(f.Method), core.FormatScore(f.Score), core.FormatScore(f.Threshold),
			yesNo(f.Drifted), core.FormatScore(f.PSI), core.FormatScore(f.RefMean), core.FormatScore(f.CurMean))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if hidden := len(r.Drift.Features) - len(fs); hidden > 0 {
		fmt.Fprintf(out, "(%d more features; --max-features 0 lists all)\n", hidden)
	}
	if q := r.Quality; q != nil {
		fmt.Fprintln(out)
		cmdutil.Heading(io, "Live quality (window "+q.Window+")")
		fmt.Fprintf(out, "%d labelled rows, %d without a label, %d labels without a logged request\n", q.LabelledRows, q.UnlabelledRows, q.UnmatchedLabels)
		if q.LabelledRows > 0 {
			qt := cmdutil.NewTable(io, "window start (UTC)", "rows", "accuracy", "precision", "recall", "f1")
			for _, w := range q.Windows {
				qt.AddRow(w.Label(), fmt.Sprint(w.Rows), f4(w.Accuracy), f4(w.PrecisionMacro), f4(w.RecallMacro), f4(w.F1Macro))
			}
			o := q.Overall
			qt.AddRow("all", fmt.Sprint(o.Rows), f4(o.Accuracy), f4(o.PrecisionMacro), f4(o.RecallMacro), f4(o.F1Macro))
			if err := qt.Render(); err != nil {
				return err
			}
		}
	}
	if len(r.Gates) > 0 {
		fmt.Fprintln(out)
		cmdutil.Heading(io, "Gates")
		gt := cmdutil.NewTable(io, "gate", "actual", "result")
		for _, g := range r.Gates {
			actual := "n/a"
			if g.Actual != nil {
				actual = core.FormatScore(*g.Actual)
			}
			res := "pass"
			if !g.Passed {
				res = "FAIL: " + g.Reason
			}
			gt.AddRow(g.Gate, actual, res)
		}
		if err := gt.Render(); err != nil {
			return err
		}
	}
	return nil
}

func f4(v float64) string { return fmt.Sprintf("%.4f", v) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
