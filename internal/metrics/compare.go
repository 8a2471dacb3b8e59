package metrics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// McNemar is the exact (binomial) McNemar test on paired classifiers:
// B counts rows only model A got right, C rows only model B got right.
type McNemar struct {
	B      int64   `json:"only_a_correct"`
	C      int64   `json:"only_b_correct"`
	PValue float64 `json:"p_value"`
}

// McNemarExact returns the two-sided exact p-value min(1, 2·BinomCDF(min(b,c);
// b+c, ½)), as statsmodels' mcnemar(exact=True).
func McNemarExact(correctA, correctB []bool) (McNemar, error) {
	if len(correctA) != len(correctB) {
		return McNemar{}, fmt.Errorf("paired test needs the same rows: %d vs %d", len(correctA), len(correctB))
	}
	var m McNemar
	for i, a := range correctA {
		switch {
		case a && !correctB[i]:
			m.B++
		case !a && correctB[i]:
			m.C++
		}
	}
	m.PValue = math.Min(1, 2*binomCDFHalf(min(m.B, m.C), m.B+m.C))
	return m, nil
}

// binomCDFHalf is P(X ≤ k) for X ~ Binomial(n, ½), summed in log space so
// large n neither overflows nor underflows early.
func binomCDFHalf(k, n int64) float64 {
	if n == 0 {
		return 1
	}
	lnHalfN := float64(n) * math.Log(0.5)
	lgN, _ := math.Lgamma(float64(n) + 1)
	var sum float64
	for i := int64(0); i <= k; i++ {
		a, _ := math.Lgamma(float64(i) + 1)
		b, _ := math.Lgamma(float64(n-i) + 1)
		sum += math.Exp(lgN - a - b + lnHalfN)
	}
	return math.Min(sum, 1)
}

// Agreement is the fraction of rows where both models predict the same.
func Agreement(a, b []int) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN()
	}
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(len(a))
}

// Interval is a point estimate with a bootstrap confidence interval.
type Interval struct {
	Value float64 `json:"value"`
	Low   float64 `json:"ci_low"`
	High  float64 `json:"ci_high"`
}

// BootstrapDelta resamples the n paired rows with replacement `resamples`
// times (seeded, so runs are reproducible) and returns the delta
// stat(B) − stat(A) on all rows with the 2.5/97.5 percentiles (numpy's
// linear interpolation) of the resampled deltas. stat receives the row
// indices of one resample and returns the two models' values.
func BootstrapDelta(ctx context.Context, n, resamples int, seed uint64, stat func(idx []int) (a, b float64)) (Interval, error) {
	if n == 0 || resamples <= 0 {
		return Interval{}, fmt.Errorf("bootstrap needs rows and resamples (got %d rows, %d resamples)", n, resamples)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	a, b := stat(idx)
	out := Interval{Value: b - a}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	deltas := make([]float64, 0, resamples)
	for r := 0; r < resamples; r++ {
		if err := ctx.Err(); err != nil {
			return Interval{}, err
		}
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		a, b := stat(idx)
		if d := b - a; !math.IsNaN(d) {
			deltas = append(deltas, d)
		}
	}
	if len(deltas) == 0 {
		out.Low, out.High = math.NaN(), math.NaN()
		return out, nil
	}
	slices.Sort(deltas)
	out.Low, out.High = Percentile(deltas, 2.5), Percentile(deltas, 97.5)
	return out, nil
}

// Percentile of sorted values with numpy's default linear interpolation.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	f := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*f
}
