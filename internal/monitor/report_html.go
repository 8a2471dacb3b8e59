package monitor

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// HTMLOptions configures WriteHTML.
type HTMLOptions struct {
	MaxPlots    int // distribution plots for the most drifted features; 0 means 12
	MaxFeatures int // rows in the feature table; 0 means all
}

// WriteHTML writes the page HTML renders to a temporary file next to path and renames it into
// place; an existing regular file is replaced, anything else at path is refused.
func (r *Report) WriteHTML(path string, opts HTMLOptions) error {
	page, err := r.HTML(opts)
	if err != nil {
		return err
	}
	if err := safefile.WriteFile(context.Background(), path, page, true); err != nil {
		return err // safefile's errors name the file or its folder
	}
	return nil
}

// HTML renders one self-contained page (inline SVG, no external assets) with the summary, the
// drift table, live quality, gates and reference-vs-current distribution plots of the most drifted
// features.
func (r *Report) HTML(opts HTMLOptions) ([]byte, error) {
	if opts.MaxPlots == 0 {
		opts.MaxPlots = 12
	}
	type plotView struct {
		Feature FeatureDrift
		SVG     template.HTML
	}
	var plots []plotView
	if r.ref != nil && r.cur != nil {
		for _, f := range r.TopFeatures(opts.MaxPlots) {
			ref, cur := r.column(r.ref, f.Name), r.column(r.cur, f.Name)
			if ref == nil || cur == nil {
				continue
			}
			svg, err := distributionSVG(f, ref, cur)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", f.Name, err)
			}
			plots = append(plots, plotView{f, template.HTML(svg)})
		}
	}
	var md bytes.Buffer
	view := struct {
		R        *Report
		Summary  string
		Features []FeatureDrift
		Hidden   int
		Plots    []plotView
	}{R: r, Summary: r.Summary(), Features: r.TopFeatures(opts.MaxFeatures), Plots: plots}
	view.Hidden = len(r.Drift.Features) - len(view.Features)
	tmpl, err := template.New("report").Funcs(template.FuncMap{"score": scoreAny}).Parse(htmlTemplate)
	if err != nil {
		return nil, err
	}
	if err := tmpl.Execute(&md, view); err != nil {
		return nil, err
	}
	return md.Bytes(), nil
}

// scoreAny formats a float64 or *float64 for the template.
func scoreAny(v any) string {
	switch x := v.(type) {
	case float64:
		return FormatScore(x)
	case *float64:
		if x != nil {
			return FormatScore(*x)
		}
	}
	return "n/a"
}

func (r *Report) column(f *Frame, name string) []float64 {
	if name == "prediction" && f.Prediction != nil {
		return f.Prediction.Values
	}
	for i := range f.Columns {
		if f.Columns[i].Name == name {
			return f.Columns[i].Values
		}
	}
	return nil
}

// distributionSVG draws the reference and current shares per bin (numerical) or per category side by
// side.
func distributionSVG(f FeatureDrift, ref, cur []float64) ([]byte, error) {
	a, b := slices.Clone(ref), slices.Clone(cur)
	sort.Float64s(a)
	sort.Float64s(b)
	var labels []string
	var refShares, curShares []float64
	levels := mergeDistinct(distinctSorted(a), distinctSorted(b))
	if f.Kind == KindNumerical && len(levels) > maxUnbinnedLevels {
		edges := sturgesEdges(math.Min(a[0], b[0]), math.Max(a[len(a)-1], b[len(b)-1]), len(a)+len(b))
		refShares, curShares = histogramShares(a, edges), histogramShares(b, edges)
		for i := 0; i+1 < len(edges); i++ {
			labels = append(labels, strconv.FormatFloat((edges[i]+edges[i+1])/2, 'g', 3, 64))
		}
	} else {
		rc, cc := levelCounts(a, levels), levelCounts(b, levels)
		for i, l := range levels {
			labels = append(labels, strconv.FormatFloat(l, 'g', 4, 64))
			refShares = append(refShares, rc[i]/float64(len(a)))
			curShares = append(curShares, cc[i]/float64(len(b)))
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s — %s %s", f.Name, f.Method, FormatScore(f.Score))
	if f.Method.IsTest() {
		p.Title.Text = fmt.Sprintf("%s — %s p=%s", f.Name, f.Method, FormatScore(f.Score))
	}
	p.Y.Label.Text = "share of rows"
	w := vg.Points(math.Max(2, math.Min(14, 300/float64(len(labels)+1))))
	refBars, err := plotter.NewBarChart(plotter.Values(refShares), w)
	if err != nil {
		return nil, err
	}
	curBars, err := plotter.NewBarChart(plotter.Values(curShares), w)
	if err != nil {
		return nil, err
	}
	refBars.Color = color.RGBA{R: 70, G: 110, B: 200, A: 255}
	refBars.LineStyle.Width = 0
	curBars.Color = color.RGBA{R: 230, G: 120, B: 40, A: 255}
	curBars.LineStyle.Width = 0
	refBars.Offset = -w / 2
	curBars.Offset = w / 2
	p.Add(refBars, curBars)
	p.Legend.Add("reference", refBars)
	p.Legend.Add("current", curBars)
	p.Legend.Top = true
	// Label at most ~12 ticks so numbers stay readable.
	step := max(1, len(labels)/12)
	shown := make([]string, len(labels))
	for i := range labels {
		if i%step == 0 {
			shown[i] = labels[i]
		}
	}
	p.NominalX(shown...)
	wt, err := p.WriterTo(5*vg.Inch, 3*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	// Drop the XML prolog so the SVG can sit inline in HTML.
	out := buf.Bytes()
	if i := bytes.Index(out, []byte("<svg")); i > 0 {
		out = out[i:]
	}
	return out, nil
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>mlops monitor — {{.R.Model}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.bad{color:#b00;font-weight:bold}.ok{color:#070}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots svg{border:1px solid #eee}
</style></head><body>
<h1>Model monitoring: {{.R.Model}}</h1>
<p class="{{if .R.Drift.Drifted}}bad{{else}}ok{{end}}">{{.Summary}}</p>
<p>Current: <code>{{.R.Current.Path}}</code> ({{.R.Current.From.Format "2006-01-02 15:04Z"}} … {{.R.Current.To.Format "2006-01-02 15:04Z"}}, {{.R.Current.Logs.Files}} files, {{.R.Current.Logs.Lines}} lines, {{.R.Current.Logs.Skipped}} skipped).
Reference: <code>{{.R.Reference.Path}}</code> ({{.R.Reference.Kind}}, {{.R.Reference.Rows}} rows). Generated {{.R.GeneratedAt.Format "2006-01-02 15:04:05Z"}}.</p>
{{with .R.PredictionDrift}}<p>Prediction drift: <span class="{{if .Drifted}}bad{{else}}ok{{end}}">{{if .Drifted}}yes{{else}}no{{end}}</span> ({{.Method}} {{score .Score}}, threshold {{score .Threshold}}).</p>{{end}}
{{if .R.Gates}}<h2>Gates</h2><table><tr><th class="l">gate</th><th>actual</th><th class="l">result</th></tr>
{{range .R.Gates}}<tr><td class="l"><code>{{.Gate}}</code></td><td>{{if .Actual}}{{score .Actual}}{{else}}n/a{{end}}</td><td class="l {{if .Passed}}ok{{else}}bad{{end}}">{{if .Passed}}pass{{else}}FAIL: {{.Reason}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .R.Quality}}<h2>Live quality (window {{.Window}})</h2>
<p>{{.LabelledRows}} labelled rows, {{.UnlabelledRows}} without a label, {{.UnmatchedLabels}} labels without a logged request{{if .CountMismatches}}, {{.CountMismatches}} label-count mismatches ({{.MismatchExample}}){{end}}.</p>
<table><tr><th class="l">window start (UTC)</th><th>rows</th><th>accuracy</th><th>precision (macro)</th><th>recall (macro)</th><th>F1 (macro)</th></tr>
{{range .Windows}}<tr><td class="l">{{.Label}}</td><td>{{.Rows}}</td><td>{{score .Accuracy}}</td><td>{{score .PrecisionMacro}}</td><td>{{score .RecallMacro}}</td><td>{{score .F1Macro}}</td></tr>
{{end}}{{if .LabelledRows}}<tr><th class="l">all</th><th>{{.Overall.Rows}}</th><th>{{score .Overall.Accuracy}}</th><th>{{score .Overall.PrecisionMacro}}</th><th>{{score .Overall.RecallMacro}}</th><th>{{score .Overall.F1Macro}}</th></tr>{{end}}
</table>{{end}}
{{if .Plots}}<h2>Distributions of the most drifted features</h2><div class="plots">
{{range .Plots}}<div>{{.SVG}}</div>
{{end}}</div>{{end}}
<h2>Features</h2>
<table><tr><th class="l">feature</th><th class="l">kind</th><th class="l">method</th><th>score</th><th>threshold</th><th class="l">drifted</th><th>PSI</th><th>ref mean</th><th>cur mean</th><th>ref std</th><th>cur std</th></tr>
{{range .Features}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Kind}}</td><td class="l">{{.Method}}</td><td>{{score .Score}}</td><td>{{score .Threshold}}</td><td class="l {{if .Drifted}}bad{{else}}ok{{end}}">{{if .Drifted}}yes{{else}}no{{end}}</td><td>{{score .PSI}}</td><td>{{score .RefMean}}</td><td>{{score .CurMean}}</td><td>{{score .RefStd}}</td><td>{{score .CurStd}}</td></tr>
{{end}}</table>{{if .Hidden}}<p>{{.Hidden}} more features not shown.</p>{{end}}
</body></html>
`
