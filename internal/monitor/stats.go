package monitor

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// The statistics in this file follow the definitions in scipy.stats (ks_2samp, chisquare,
// wasserstein_distance) and scipy.spatial.distance.jensenshannon; testdata/golden_stats.json, generated
// by testdata/gen_golden_stats.py, pins them to scipy's numbers.

// ksExactMaxCells bounds the lattice the exact KS p-value walks (n1*n2 cells); larger samples use the
// asymptotic distribution, which is accurate there and keeps hundreds of features fast.
const ksExactMaxCells = 4_000_000

// KSTest is the two-sided two-sample Kolmogorov–Smirnov test. a and b must be sorted ascending and
// non-empty. It returns the statistic D (largest distance between the empirical CDFs) and its p-value.
func KSTest(a, b []float64) (d, p float64) {
	n1, n2 := len(a), len(b)
	i, j := 0, 0
	for i < n1 && j < n2 {
		x := math.Min(a[i], b[j])
		for i < n1 && a[i] <= x {
			i++
		}
		for j < n2 && b[j] <= x {
			j++
		}
		if diff := math.Abs(float64(i)/float64(n1) - float64(j)/float64(n2)); diff > d {
			d = diff
		}
	}
	return d, ksPValue(d, n1, n2)
}

func ksPValue(d float64, n1, n2 int) float64 {
	if d <= 0 {
		return 1
	}
	if float64(n1)*float64(n2) <= ksExactMaxCells {
		// 1 - P(inside) cancels to 0 below ~1e-15; there the asymptotic tail is the better estimate.
		if p := ksExactPValue(d, n1, n2); p >= 1e-8 {
			return p
		}
	}
	return ksAsymptoticPValue(d, n1, n2)
}

// ksExactPValue counts the monotone lattice paths from (0,0) to (n1,n2) that stay strictly inside the
// band |i/n1 - j/n2| < d; the p-value is the share of paths that leave it. Path counts are kept
// normalised by C(i+n2, n2) so that nothing overflows.
func ksExactPValue(d float64, n1, n2 int) float64 {
	m, n := n1, n2
	if m > n {
		m, n = n, m
	}
	mn := float64(m) * float64(n)
	// In units of 1/(m*n) the statistic is an integer; work with integers to avoid rounding at the edge.
	c := int64(math.Round(d * mn))
	inside := func(i, j int) bool {
		v := int64(i)*int64(n) - int64(j)*int64(m)
		if v < 0 {
			v = -v
		}
		return v < c
	}
	u := make([]float64, n+1)
	for j := 0; j <= n; j++ {
		if inside(0, j) {
			u[j] = 1
		} else {
			// Once a path leaves the band it never counts again; later cells of row 0 are unreachable.
			for ; j <= n; j++ {
				u[j] = 0
			}
		}
	}
	for i := 1; i <= m; i++ {
		w := float64(i) / float64(i+n)
		if inside(i, 0) {
			u[0] *= w
		} else {
			u[0] = 0
		}
		for j := 1; j <= n; j++ {
			if inside(i, j) {
				u[j] = w*u[j] + u[j-1]
			} else {
				u[j] = 0
			}
		}
	}
	p := 1 - u[n]
	return clamp01(p)
}

// ksAsymptoticPValue uses the Kolmogorov limiting distribution with Stephens' small-sample correction.
func ksAsymptoticPValue(d float64, n1, n2 int) float64 {
	en := float64(n1) * float64(n2) / float64(n1+n2)
	sq := math.Sqrt(en)
	return clamp01(kolmogorovSurvival((sq + 0.12 + 0.11/sq) * d))
}

// kolmogorovSurvival is P(K > x) for the Kolmogorov distribution.
func kolmogorovSurvival(x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x < 1.18 {
		// The alternating series converges slowly here; use the theta-function form.
		y := -math.Pi * math.Pi / (8 * x * x)
		s := 0.0
		for k := 1; k <= 99; k += 2 {
			t := math.Exp(float64(k*k) * y)
			s += t
			if t < 1e-17*s {
				break
			}
		}
		return 1 - math.Sqrt(2*math.Pi)/x*s
	}
	s := 0.0
	sign := 1.0
	for k := 1; k <= 100; k++ {
		t := math.Exp(-2 * float64(k*k) * x * x)
		s += sign * t
		if t < 1e-17 {
			break
		}
		sign = -sign
	}
	return 2 * s
}

// ChiSquareTest is Pearson's goodness-of-fit test of observed counts against expected counts (scipy's
// chisquare with f_exp), with len(obs)-1 degrees of freedom. A category expected zero times but observed
// gives an infinite statistic and p-value 0.
func ChiSquareTest(obs, exp []float64) (stat, p float64) {
	if len(obs) < 2 {
		return 0, 1
	}
	for i := range obs {
		if exp[i] == 0 {
			if obs[i] != 0 {
				return math.Inf(1), 0
			}
			continue
		}
		diff := obs[i] - exp[i]
		stat += diff * diff / exp[i]
	}
	chi := distuv.ChiSquared{K: float64(len(obs) - 1)}
	return stat, clamp01(chi.Survival(stat))
}

// ChiSquareHomogeneity is Pearson's chi-square test that two samples of counts per category come from
// one distribution (scipy.stats.chi2_contingency on the 2×k table, correction=False), with k-1
// degrees of freedom over the categories seen in either sample. Unlike the goodness-of-fit form, it
// accounts for the reference being a sample too, so its false-alarm rate matches its significance level.
func ChiSquareHomogeneity(ref, cur []float64) (stat, p float64) {
	nRef, nCur := sum(ref), sum(cur)
	total := nRef + nCur
	k := 0
	for i := range ref {
		col := ref[i] + cur[i]
		if col == 0 {
			continue
		}
		k++
		for _, c := range [2][2]float64{{ref[i], nRef}, {cur[i], nCur}} {
			exp := c[1] * col / total
			diff := c[0] - exp
			stat += diff * diff / exp
		}
	}
	if k < 2 {
		return 0, 1
	}
	chi := distuv.ChiSquared{K: float64(k - 1)}
	return stat, clamp01(chi.Survival(stat))
}

// ProportionsZTest compares the share of rows equal to category `key` in two samples with the pooled
// two-proportion Z-test (two-sided), as Evidently's z-test does for binary columns.
func ProportionsZTest(refHits, refN, curHits, curN int) (z, p float64) {
	p1 := float64(refHits) / float64(refN)
	p2 := float64(curHits) / float64(curN)
	pool := (float64(refHits) + float64(curHits)) / float64(refN+curN)
	den := math.Sqrt(pool * (1 - pool) * (1/float64(refN) + 1/float64(curN)))
	if den == 0 {
		return 0, 1
	}
	z = (p1 - p2) / den
	return z, clamp01(2 * distuv.UnitNormal.Survival(math.Abs(z)))
}

// WassersteinDistance is the first Wasserstein (earth mover's) distance between two empirical
// distributions: the area between their CDFs. a and b must be sorted ascending and non-empty.
func WassersteinDistance(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	i, j := 0, 0
	prev := math.Min(a[0], b[0])
	total := 0.0
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case i == len(a):
			x = b[j]
		case j == len(b):
			x = a[i]
		default:
			x = math.Min(a[i], b[j])
		}
		total += math.Abs(float64(i)/n1-float64(j)/n2) * (x - prev)
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		prev = x
	}
	return total
}

// PSI is the population stability index of two distributions given as shares per bin:
// sum((cur-ref) * ln(cur/ref)). Shares must already be free of zeros (see fillZeros).
func PSI(ref, cur []float64) float64 {
	s := 0.0
	for i := range ref {
		s += (cur[i] - ref[i]) * math.Log(cur[i]/ref[i])
	}
	return s
}

// JensenShannonDistance is the square root of the Jensen–Shannon divergence (natural log) between two
// distributions, each normalised to sum 1 first, as scipy.spatial.distance.jensenshannon does.
func JensenShannonDistance(p, q []float64) float64 {
	sp, sq := sum(p), sum(q)
	js := 0.0
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		if pi > 0 {
			js += pi * math.Log(pi/m)
		}
		if qi > 0 {
			js += qi * math.Log(qi/m)
		}
	}
	return math.Sqrt(math.Max(js/2, 0))
}

// sturgesEdges returns histogram bin edges over sorted values the way numpy's
// histogram_bin_edges(bins="sturges") does: ceil(log2(n)+1) equal-width bins spanning [min, max].
func sturgesEdges(lo, hi float64, n int) []float64 {
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
		return []float64{lo, hi}
	}
	width := (hi - lo) / (math.Log2(float64(n)) + 1)
	bins := int(math.Ceil((hi - lo) / width))
	if bins < 1 {
		bins = 1
	}
	edges := make([]float64, bins+1)
	step := (hi - lo) / float64(bins)
	for i := range edges {
		edges[i] = lo + float64(i)*step
	}
	edges[bins] = hi
	return edges
}

// histogramShares counts sorted values into bins (right edge of the last bin included, as numpy does)
// and returns the share of values per bin.
func histogramShares(sorted []float64, edges []float64) []float64 {
	bins := len(edges) - 1
	counts := make([]float64, bins)
	for _, v := range sorted {
		if v < edges[0] || v > edges[bins] {
			continue
		}
		k := sort.SearchFloat64s(edges, v) // first edge >= v
		switch {
		case k < len(edges) && edges[k] == v && k < bins:
			// v sits on the left edge of bin k
		default:
			k--
		}
		if k < 0 {
			k = 0
		}
		counts[k]++
	}
	for i := range counts {
		counts[i] /= float64(len(sorted))
	}
	return counts
}

// zeroShare replaces empty bins so PSI and the JS distance stay finite (Evidently's convention).
const zeroShare = 0.0001

func fillZeros(shares []float64) {
	for i, s := range shares {
		if s == 0 {
			shares[i] = zeroShare
		}
	}
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func clamp01(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return 1
	case p < 0:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// meanStd returns the mean and population standard deviation (numpy's np.std, ddof=0).
func meanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	mean = sum(xs) / float64(len(xs))
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)))
}
