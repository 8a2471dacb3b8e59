// Package report summarises a tuning study for people: trial counts, the best trial or the
// Pareto front, a first-order parameter importance, and plots (optimization history, parallel
// coordinates, importance, Pareto front) as PNG/SVG files or one self-contained HTML page in
// the style of `mlops eval`'s report.
package report

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// Report is what the plots and the page show.
type Report struct {
	Study      string
	Storage    string
	Objectives []study.Objective
	Counts     study.Counts
	Best       *study.Trial
	Pareto     []*study.Trial
	Top        []*study.Trial // best completed trials first (single objective), at most 20
	Importance []Importance
	st         *study.Study
	Generated  time.Time
}

// Importance is a parameter's share of the objective's variance that it explains alone.
type Importance struct {
	Param string  `json:"param"`
	Share float64 `json:"share"`
}

// Build computes the report of a study.
func Build(st *study.Study, storage string, now time.Time) *Report {
	r := &Report{Study: st.Name, Storage: storage, Objectives: st.Objectives, Counts: st.Count(), st: st, Generated: now}
	if st.MultiObjective() {
		r.Pareto = st.Pareto()
	} else {
		r.Best = st.Best()
		done := st.Completed()
		slices.SortStableFunc(done, func(a, b *study.Trial) int {
			o := st.Objectives[0]
			switch {
			case a.Feasible() != b.Feasible(): // feasible trials first
				if a.Feasible() {
					return -1
				}
				return 1
			case o.Better(a.Values[0], b.Values[0]):
				return -1
			case o.Better(b.Values[0], a.Values[0]):
				return 1
			}
			return 0
		})
		r.Top = done[:min(len(done), 20)]
	}
	r.Importance = importance(st)
	return r
}

// importance estimates, for each parameter, the share of the first objective's variance that
// the parameter explains on its own: the variance of the objective's mean within bins of the
// parameter (quantile bins for numbers, one per choice for categoricals), over the total
// variance (a first-order Sobol index estimated from the trials). Shares are normalised to sum
// to 1. It needs no model fit, so it is cheap and deterministic, but it does not see
// interactions (Optuna's default fANOVA does).
func importance(st *study.Study) []Importance {
	done := st.Completed()
	if len(done) < 4 {
		return nil
	}
	ys := make([]float64, len(done))
	for i, t := range done {
		ys[i] = t.Values[0]
	}
	total := variance(ys)
	if total == 0 {
		return nil
	}
	var out []Importance
	var sum float64
	for i := range st.Space.Params {
		p := &st.Space.Params[i]
		var xs, y []float64
		for k, t := range done {
			if v, ok := t.Params[p.Name]; ok {
				xs = append(xs, p.Internal(v))
				y = append(y, ys[k])
			}
		}
		if len(xs) < 4 {
			continue
		}
		bins := binMeans(xs, y, p.Type == space.Categorical)
		share := bins / total * float64(len(xs)) / float64(len(done))
		out = append(out, Importance{Param: p.Name, Share: share})
		sum += share
	}
	if sum > 0 {
		for i := range out {
			out[i].Share /= sum
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Share > out[b].Share })
	return out
}

// binMeans is the variance, over observations, of their bin's mean objective.
func binMeans(xs, ys []float64, categorical bool) float64 {
	n := len(xs)
	bin := make([]int, n)
	if categorical {
		for i, x := range xs {
			bin[i] = int(x)
		}
	} else {
		nb := max(2, min(10, int(math.Sqrt(float64(n)))))
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
		for rank, i := range idx {
			bin[i] = rank * nb / n
		}
	}
	sums, counts := map[int]float64{}, map[int]int{}
	for i, b := range bin {
		sums[b] += ys[i]
		counts[b]++
	}
	means := make([]float64, n)
	for i, b := range bin {
		means[i] = sums[b] / float64(counts[b])
	}
	return variance(means)
}

func variance(v []float64) float64 {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return s / float64(len(v))
}
