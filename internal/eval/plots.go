package eval

import (
	"context"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mlops-dev/mlops/internal/metrics"
	"github.com/mlops-dev/mlops/internal/plotio"
)

// maxCurves bounds the one-vs-rest curves drawn; beyond it the legend and
// the lines become unreadable.
const maxCurves = 20

// namedPlot is one figure and the file stem it is saved under.
type namedPlot = plotio.Named

// confusionGrid adapts a confusion matrix to plotter.GridXYZ: column =
// predicted class, row = true class (class 0 at the bottom-left).
type confusionGrid [][]int64

func (g confusionGrid) Dims() (int, int)   { return len(g), len(g) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g[r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }
func (g confusionGrid) Min() float64       { return 0 }
func (g confusionGrid) Max() float64       { return math.Max(1, g.max()) }
func (g confusionGrid) max() (m float64) {
	for _, row := range g {
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
	}
	return m
}

func buildPlots(r *Report) ([]namedPlot, error) {
	var out []namedPlot
	if len(r.Confusion) > 0 {
		p := plot.New()
		p.Title.Text = "Confusion matrix"
		p.X.Label.Text, p.Y.Label.Text = "predicted class", "true class"
		k := len(r.Confusion)
		var xt, yt []plot.Tick
		for c := 0; c < k; c++ {
			xt = append(xt, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
			yt = append(yt, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
		}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5, -0.5, float64(k)-0.5
		pal := moreland.SmoothBlueRed()
		pal.SetMax(1)
		hm := plotter.NewHeatMap(confusionGrid(r.Confusion), pal.Palette(64))
		p.Add(hm)
		labels, err := plotter.NewLabels(confusionLabels(r.Confusion))
		if err != nil {
			return nil, err
		}
		p.Add(labels)
		out = append(out, namedPlot{Name: "confusion_matrix", Plot: p})
	}
	if pr := r.preds; pr != nil && (pr.Task == Classification || pr.Task == Binary) {
		roc, prc := plot.New(), plot.New()
		roc.Title.Text, roc.X.Label.Text, roc.Y.Label.Text = "ROC (one-vs-rest)", "false positive rate", "true positive rate"
		prc.Title.Text, prc.X.Label.Text, prc.Y.Label.Text = "Precision-recall (one-vs-rest)", "recall", "precision"
		err := curveSets(pr, func(c int, y []bool, s []float64) error {
			name := fmt.Sprintf("class %d", c)
			if pr.Task == Binary {
				name = "positive class"
			}
			if err := addCurve(roc, name, c, metrics.ROCCurve(y, s)); err != nil {
				return err
			}
			return addCurve(prc, name, c, metrics.PRCurve(y, s))
		})
		if err != nil {
			return nil, err
		}
		diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		roc.Add(diag)
		roc.Legend.Top, roc.Legend.Left = false, false
		out = append(out, namedPlot{Name: "roc", Plot: roc}, namedPlot{Name: "pr", Plot: prc})
	}
	if cal := r.calibration; cal != nil {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = fmt.Sprintf("Reliability (ECE %.4f)", cal.ECE), "confidence", "accuracy"
		var pts plotter.XYs
		for b, n := range cal.Count {
			if n > 0 {
				pts = append(pts, plotter.XY{X: cal.Confidence[b], Y: cal.Accuracy[b]})
			}
		}
		if len(pts) > 0 {
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			p.Add(l, s)
		}
		diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(diag)
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		out = append(out, namedPlot{Name: "reliability", Plot: p})
	}
	if len(r.Latency) > 0 && len(r.Latency[0].Samples) > 1 {
		l := r.Latency[0]
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Latency, batch size %d (p99 %s ms)", l.BatchSize, FormatNum(l.P99MS))
		p.X.Label.Text, p.Y.Label.Text = "milliseconds per run", "runs"
		h, err := plotter.NewHist(plotter.Values(l.Samples), 30)
		if err != nil {
			return nil, err
		}
		p.Add(h)
		out = append(out, namedPlot{Name: "latency", Plot: p})
	}
	return out, nil
}

func confusionLabels(g [][]int64) plotter.XYLabels {
	var l plotter.XYLabels
	k := len(g)
	for t := 0; t < k; t++ {
		for p := 0; p < k; p++ {
			l.XYs = append(l.XYs, plotter.XY{X: float64(p), Y: float64(t)})
			l.Labels = append(l.Labels, fmt.Sprint(g[t][p]))
		}
	}
	return l
}

// curveSets calls fn with (class, y==class, score column) for each curve
// to draw: the positive class for binary, every class present in y_true
// (up to maxCurves) for multiclass.
func curveSets(p *Predictions, fn func(int, []bool, []float64) error) error {
	n := p.Rows()
	if p.Task == Binary {
		y := make([]bool, n)
		for i, l := range p.Labels {
			y[i] = l == 1
		}
		return fn(1, y, p.Scores)
	}
	for c := 0; c < p.K && c < maxCurves; c++ {
		y, s := make([]bool, n), make([]float64, n)
		pos := false
		for i := 0; i < n; i++ {
			y[i], s[i] = p.Labels[i] == c, p.Scores[i*p.K+c]
			pos = pos || y[i]
		}
		if !pos {
			continue
		}
		if err := fn(c, y, s); err != nil {
			return err
		}
	}
	return nil
}

// maxCurvePoints bounds the vertices of one drawn curve; beyond a few
// hundred the picture does not change but the SVG grows to megabytes.
const maxCurvePoints = 500

func addCurve(p *plot.Plot, name string, i int, c metrics.Curve) error {
	pts := make(plotter.XYs, 0, min(len(c.X), maxCurvePoints+1))
	step := max(1, len(c.X)/maxCurvePoints)
	for j := range c.X {
		if j%step != 0 && j != len(c.X)-1 {
			continue
		}
		if !math.IsNaN(c.X[j]) && !math.IsNaN(c.Y[j]) {
			pts = append(pts, plotter.XY{X: c.X[j], Y: c.Y[j]})
		}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = curveColor(i)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

func curveColor(i int) color.Color {
	pal := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
		{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}
	return pal[i%len(pal)]
}

// WritePlots writes every plot as PNG and SVG into dir (created if needed)
// and returns the paths written.
func WritePlots(ctx context.Context, r *Report, dir string) ([]string, error) {
	plots, err := buildPlots(r)
	if err != nil {
		return nil, err
	}
	return plotio.WriteFiles(ctx, plots, dir)
}
