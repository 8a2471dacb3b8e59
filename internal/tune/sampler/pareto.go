package sampler

import (
	"math"
	"slices"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// fronts sorts loss vectors into non-dominated fronts (Deb's fast non-dominated sort): fronts[0]
// is the Pareto front.
func fronts(losses [][]float64) [][]int {
	n := len(losses)
	dominatedBy := make([][]int, n) // i dominates these
	count := make([]int, n)         // how many dominate i
	var first []int
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			if study.Dominates(losses[i], losses[j]) {
				dominatedBy[i] = append(dominatedBy[i], j)
			} else if study.Dominates(losses[j], losses[i]) {
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

// rankOrder orders points best first: by front, then by decreasing crowding distance, then by
// index (stable, so results are deterministic).
func rankOrder(losses [][]float64) []int {
	var out []int
	for _, f := range fronts(losses) {
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
