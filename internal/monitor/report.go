package monitor

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Severity orders features from most to least drifted: drifted first, then by how far the score is
// past (or short of) its threshold.
func (f FeatureDrift) Severity() float64 {
	s := 0.0
	if f.Method.IsTest() {
		s = 1 - f.Score // smaller p-value is worse
	} else if f.Threshold > 0 {
		s = f.Score / f.Threshold
	}
	if f.Drifted {
		s += 1e6
	}
	return s
}

// TopFeatures returns up to n features, most drifted first (n <= 0: all).
func (r *Report) TopFeatures(n int) []FeatureDrift {
	fs := append([]FeatureDrift(nil), r.Drift.Features...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity() > fs[j].Severity() })
	if n > 0 && len(fs) > n {
		fs = fs[:n]
	}
	return fs
}

// FormatScore prints a statistic compactly: whole numbers as integers, tiny or huge ones in %.3g,
// others with 4 decimals.
func FormatScore(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) >= 1 && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64) // counts: 60, not 60.0000
	}
	if v != 0 && (v < 0.001 || v >= 1e4) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// Summary is a one-line verdict for humans.
func (r *Report) Summary() string {
	verdict := "no dataset drift"
	if r.Drift.Drifted {
		verdict = "DATASET DRIFT"
	}
	s := fmt.Sprintf("%s: %d of %d features drifted (share %.3f, threshold %.3g); %d current rows vs %d reference rows",
		verdict, r.Drift.DriftedColumns, r.Drift.Columns, r.Drift.Share, r.Drift.ShareThreshold, r.Current.Rows, r.Reference.Rows)
	if r.Current.Logs.Skipped > 0 {
		s += fmt.Sprintf("; %d malformed log lines skipped", r.Current.Logs.Skipped)
	}
	return s
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown (for a PR or issue comment), listing at
// most maxFeatures features (0: all).
func (r *Report) WriteMarkdown(w io.Writer, maxFeatures int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Model monitoring: %s\n\n", mdEscape(r.Model))
	fmt.Fprintf(&b, "%s.\n\n", r.Summary())
	fmt.Fprintf(&b, "Current: `%s` (%s … %s). Reference: `%s` (%s).\n\n", r.Current.Path,
		r.Current.From.Format("2006-01-02 15:04Z"), r.Current.To.Format("2006-01-02 15:04Z"), r.Reference.Path, r.Reference.Kind)
	if pd := r.PredictionDrift; pd != nil {
		fmt.Fprintf(&b, "Prediction drift: %s (%s %s, threshold %s).\n\n", yesNo(pd.Drifted), pd.Method, FormatScore(pd.Score), FormatScore(pd.Threshold))
	}
	fs := r.TopFeatures(maxFeatures)
	b.WriteString("| feature | kind | method | score | threshold | drifted | PSI | ref mean | cur mean |\n|---|---|---|---:|---:|---|---:|---:|---:|\n")
	for _, f := range fs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(f.Name), f.Kind, f.Method, FormatScore(f.Score),
			FormatScore(f.Threshold), yesNo(f.Drifted), FormatScore(f.PSI), FormatScore(f.RefMean), FormatScore(f.CurMean))
	}
	if len(fs) < len(r.Drift.Features) {
		fmt.Fprintf(&b, "\n%d more features not shown.\n", len(r.Drift.Features)-len(fs))
	}
	if q := r.Quality; q != nil {
		fmt.Fprintf(&b, "\n### Live quality (window %s)\n\n%d labelled rows, %d without a label, %d labels without a logged request",
			q.Window, q.LabelledRows, q.UnlabelledRows, q.UnmatchedLabels)
		if q.CountMismatches > 0 {
			fmt.Fprintf(&b, ", %d requests whose label count did not match (%s)", q.CountMismatches, q.MismatchExample)
		}
		b.WriteString(".\n\n| window start (UTC) | rows | accuracy | precision (macro) | recall (macro) | F1 (macro) |\n|---|---:|---:|---:|---:|---:|\n")
		for _, win := range q.Windows {
			writeQualityRow(&b, win.Label(), win.QualityMetrics)
		}
		if q.LabelledRows > 0 {
			writeQualityRow(&b, "**all**", q.Overall)
		}
	}
	if len(r.Gates) > 0 {
		b.WriteString("\n### Gates\n\n| gate | actual | result |\n|---|---:|---|\n")
		for _, g := range r.Gates {
			actual := "n/a"
			if g.Actual != nil {
				actual = FormatScore(*g.Actual)
			}
			res := "pass"
			if !g.Passed {
				res = "**FAIL** " + mdEscape(g.Reason)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", g.Gate, actual, res)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeQualityRow(b *strings.Builder, label string, m QualityMetrics) {
	fmt.Fprintf(b, "| %s | %d | %.4f | %.4f | %.4f | %.4f |\n", label, m.Rows, m.Accuracy, m.PrecisionMacro, m.RecallMacro, m.F1Macro)
}

func yesNo(b bool) string {
	if b {
		return "**yes**"
	}
	return "no"
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`).Replace(s)
}
