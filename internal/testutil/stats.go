package testutil

import "slices"

// Quantile is the q-quantile (0..1) of v, interpolating linearly between
// ranks; benchmarks report medians and interquartile ranges with it.
func Quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

// Ratios is a[i] / base[i] for every i: the same-round ratios of an
// interleaved benchmark, which cancel load that varies between rounds.
func Ratios(a, base []float64) []float64 {
	out := make([]float64, min(len(a), len(base)))
	for i := range out {
		out[i] = a[i] / base[i]
	}
	return out
}
