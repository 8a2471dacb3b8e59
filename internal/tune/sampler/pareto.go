package sampler

import (
	"math"
	"slices"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// feasibility is a point's standing against the study's constraints.
type feasibility struct {
	ok        bool
	violation float64 // total, when !ok
}

// trialFeasibility is t's standing.
func trialFeasibility(t *study.Trial) feasibility {
	if t.Feasible() {
		return feasibility{ok: true}
	}
	return feasibility{violation: t.TotalViolation()}
}

// dominates is Deb's constrained domination: a feasible point dominates an infeasible one, of
// two infeasible ones the smaller total violation dominates, and two feasible ones compare by
// Pareto dominance. feas nil: every point is feasible.
func dominates(losses [][]float64, feas []feasibility, i, j int) bool {
	if feas != nil {
		a, b := feas[i], feas[j]
		switch {
		case a.ok != b.ok:
			return a.ok
		case !a.ok:
			return a.violation < b.violation
		}
	}
	return study.Dominates(losses[i], losses[j])
}

// fronts sorts loss vectors into non-dominated fronts (Deb's fast non-dominated sort, with
// constrained domination when feas is given): fronts[0] is the Pareto front.
func fronts(losses [][]float64, feas []feasibility) [][]int {
	n := len(losses)
	dominatedBy := make([][]int, n) // i dominates these
	count := make([]int, n)         // how many dominate i
	var first []int
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			if dominates(losses, feas, i, j) {
				dominatedBy[i] = append(dominatedBy[i], j)
			} else if dominates(losses, feas, j, i) {
				count[i]++
			}
		}
		if count[i] == 0 {
			first = append(first, i)
		}
	}
	var out [][]int
	for cur := first; len(cur) > 0; {
		out = append(out, cur)
		var next []int
		for _, i := range cur {
			for _, j := range dominatedBy[i] {
				count[j]--
				if count[j] == 0 {
					next = append(next, j)
				}
			}
		}
		slices.Sort(next)
		cur = next
	}
	return out
}

// crowding returns NSGA-II's crowding distance of each point within one front (+inf at the
// extremes of every objective).
func crowding(losses [][]float64) []float64 {
	n := len(losses)
	d := make([]float64, n)
	if n == 0 {
		return d
	}
	idx := make([]int, n)
	for m := range losses[0] {
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(losses[a][m], losses[b][m]) })
		lo, hi := losses[idx[0]][m], losses[idx[n-1]][m]
		d[idx[0]], d[idx[n-1]] = math.Inf(1), math.Inf(1)
		if hi == lo {
			continue
		}
		for k := 1; k < n-1; k++ {
			d[idx[k]] += (losses[idx[k+1]][m] - losses[idx[k-1]][m]) / (hi - lo)
		}
	}
	return d
}

// rankOrder orders points best first: by front (feas as in fronts), then by decreasing
// crowding distance, then by index (stable, so results are deterministic).
func rankOrder(losses [][]float64, feas []feasibility) []int {
	var out []int
	for _, f := range fronts(losses, feas) {
		sub := make([][]float64, len(f))
		for i, j := range f {
			sub[i] = losses[j]
		}
		cd := crowding(sub)
		pos := make([]int, len(f))
		for i := range pos {
			pos[i] = i
		}
		slices.SortStableFunc(pos, func(a, b int) int {
			if c := cmpFloat(cd[b], cd[a]); c != 0 {
				return c
			}
			return f[a] - f[b]
		})
		for _, p := range pos {
			out = append(out, f[p])
		}
	}
	return out
}
