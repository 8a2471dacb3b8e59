package report

import (
	"context"
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mlops-dev/mlops/internal/plotio"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

var (
	blue  = color.RGBA{31, 119, 180, 255}
	red   = color.RGBA{214, 39, 40, 255}
	grey  = color.RGBA{160, 160, 160, 255}
	faint = color.RGBA{31, 119, 180, 90}
)

func (r *Report) plots() ([]plotio.Named, error) {
	var out []plotio.Named
	add := func(name string, build func() (*plot.Plot, error)) error {
		p, err := build()
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		if p != nil {
			out = append(out, plotio.Named{Name: name, Plot: p})
		}
		return nil
	}
	for _, b := range []struct {
		name  string
		build func() (*plot.Plot, error)
	}{
		{"optimization_history", r.history},
		{"parallel_coordinates", r.parallel},
		{"param_importance", r.importancePlot},
		{"intermediate_values", r.intermediate},
		{"pareto_front", r.paretoPlot},
	} {
		if err := add(b.name, b.build); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// history: every completed trial's value and the best so far.
func (r *Report) history() (*plot.Plot, error) {
	done := r.st.Completed()
	if len(done) == 0 {
		return nil, nil
	}
	o := r.Objectives[0]
	p := plot.New()
	p.Title.Text = "Optimization history"
	p.X.Label.Text, p.Y.Label.Text = "trial", fmt.Sprintf("%s (%s)", o.Metric, o.Direction)
	pts, best := make(plotter.XYs, len(done)), make(plotter.XYs, len(done))
	cur := done[0].Values[0]
	for i, t := range done {
		pts[i] = plotter.XY{X: float64(t.Number), Y: t.Values[0]}
		if o.Better(t.Values[0], cur) {
			cur = t.Values[0]
		}
		best[i] = plotter.XY{X: float64(t.Number), Y: cur}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = faint, vg.Points(2.5), draw.CircleGlyph{}
	l, err := plotter.NewLine(best)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = red, vg.Points(1.5)
	p.Add(s, l)
	p.Legend.Add("trial", s)
	p.Legend.Add("best so far", l)
	p.Legend.Top = o.Direction == study.Maximize
	return p, nil
}

// parallel draws each completed trial as a line over the parameters (scaled to [0, 1] of
// their range, log parameters in log space, choices spread evenly) and the objective,
// coloured from blue (best) to red (worst).
func (r *Report) parallel() (*plot.Plot, error) {
	done := r.st.Completed()
	if len(done) < 2 {
		return nil, nil
	}
	o := r.Objectives[0]
	params := r.st.Space.Params
	lo, hi := done[0].Values[0], done[0].Values[0]
	for _, t := range done {
		lo, hi = min(lo, t.Values[0]), max(hi, t.Values[0])
	}
	p := plot.New()
	p.Title.Text = "Parallel coordinates"
	var ticks []plot.Tick
	for i := range params {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: params[i].Name})
	}
	ticks = append(ticks, plot.Tick{Value: float64(len(params)), Label: o.Metric})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Label.Text = "position in range"
	p.Y.Min, p.Y.Max = 0, 1
	pal := moreland.SmoothBlueRed()
	pal.SetMin(0)
	pal.SetMax(1)
	// Worst first so the best lines are drawn on top.
	order := append([]*study.Trial(nil), done...)
	sort.SliceStable(order, func(a, b int) bool { return o.Better(order[b].Values[0], order[a].Values[0]) })
	for _, t := range order {
		var pts plotter.XYs
		for i := range params {
			v, ok := t.Params[params[i].Name]
			if !ok {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(i), Y: scaled(&params[i], v)})
		}
		rank := 0.5
		if hi > lo {
			rank = (t.Values[0] - lo) / (hi - lo)
			if o.Direction == study.Maximize {
				rank = 1 - rank
			}
		}
		pts = append(pts, plotter.XY{X: float64(len(params)), Y: (t.Values[0] - lo) / max(hi-lo, 1e-300)})
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		c, _ := pal.At(rank)
		l.Color, l.Width = c, vg.Points(1)
		p.Add(l)
	}
	return p, nil
}

func scaled(p *space.Param, v any) float64 {
	if p.Type == space.Categorical {
		if len(p.Choices) == 1 {
			return 0.5
		}
		return p.Internal(v) / float64(len(p.Choices)-1)
	}
	lo, hi := p.Low, p.High
	x := v.(float64)
	if p.Log {
		lo, hi, x = p.Internal(lo), p.Internal(hi), p.Internal(x)
	}
	if hi == lo {
		return 0.5
	}
	return (x - lo) / (hi - lo)
}

func (r *Report) importancePlot() (*plot.Plot, error) {
	if len(r.Importance) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Parameter importance (first-order)"
	p.X.Label.Text = "share of the objective's variance explained alone"
	vals := make(plotter.Values, len(r.Importance))
	var names []string
	for i := range r.Importance {
		j := len(r.Importance) - 1 - i // most important on top
		vals[i] = r.Importance[j].Share
		names = append(names, r.Importance[j].Param)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bars.Horizontal, bars.Color, bars.LineStyle.Width = true, blue, 0
	p.Add(bars)
	p.NominalY(names...)
	return p, nil
}

// intermediate draws the learning curves the trials reported (pruned ones grey).
func (r *Report) intermediate() (*plot.Plot, error) {
	var has bool
	for _, t := range r.st.Trials {
		has = has || len(t.Intermediate) > 1
	}
	if !has {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Intermediate values"
	p.X.Label.Text, p.Y.Label.Text = "step", r.Objectives[0].Metric
	for _, t := range r.st.Trials {
		if len(t.Intermediate) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(t.Intermediate))
		for i, iv := range t.Intermediate {
			pts[i] = plotter.XY{X: float64(iv.Step), Y: iv.Value}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = faint
		if t.State == study.Pruned {
			l.Color = grey
		}
		p.Add(l)
	}
	return p, nil
}

// paretoPlot shows the first two objectives of every completed trial, the front in red.
func (r *Report) paretoPlot() (*plot.Plot, error) {
	if len(r.Objectives) < 2 {
		return nil, nil
	}
	done := r.st.Completed()
	if len(done) == 0 {
		return nil, nil
	}
	onFront := map[int]bool{}
	for _, t := range r.Pareto {
		onFront[t.Number] = true
	}
	var all, front plotter.XYs
	for _, t := range done {
		xy := plotter.XY{X: t.Values[0], Y: t.Values[1]}
		if onFront[t.Number] {
			front = append(front, xy)
		} else {
			all = append(all, xy)
		}
	}
	p := plot.New()
	p.Title.Text = "Pareto front"
	p.X.Label.Text = fmt.Sprintf("%s (%s)", r.Objectives[0].Metric, r.Objectives[0].Direction)
	p.Y.Label.Text = fmt.Sprintf("%s (%s)", r.Objectives[1].Metric, r.Objectives[1].Direction)
	for _, set := range []struct {
		pts   plotter.XYs
		c     color.Color
		label string
	}{{all, faint, "trial"}, {front, red, "Pareto front"}} {
		if len(set.pts) == 0 {
			continue
		}
		s, err := plotter.NewScatter(set.pts)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = set.c, vg.Points(3), draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(set.label, s)
	}
	return p, nil
}

// WritePlots writes every plot as PNG and SVG into dir and returns the paths written.
func WritePlots(ctx context.Context, r *Report, dir string) ([]string, error) {
	plots, err := r.plots()
	if err != nil {
		return nil, err
	}
	return plotio.WriteFiles(ctx, plots, dir)
}
