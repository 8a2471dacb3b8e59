package sampler

import (
	"math"
	"math/rand/v2"
)

const (
	logSqrt2Pi = 0.9189385332046727 // log(√(2π))
	sqrt2      = math.Sqrt2
)

// logNdtr is log Φ(z), accurate far into the lower tail where Φ underflows.
func logNdtr(z float64) float64 {
	switch {
	case z > 6:
		return math.Log1p(-0.5 * math.Erfc(z/sqrt2))
	case z > -20:
		return math.Log(0.5 * math.Erfc(-z/sqrt2))
	}
	// Asymptotic expansion of the Mills ratio: Φ(z) ≈ φ(z)/|z| · (1 − 1/z² + 3/z⁴ − 15/z⁶).
	z2 := z * z
	s := 1 - 1/z2 + 3/(z2*z2) - 15/(z2*z2*z2)
	return -0.5*z2 - logSqrt2Pi - math.Log(-z) + math.Log(s)
}

// ndtr is Φ(z).
func ndtr(z float64) float64 { return 0.5 * math.Erfc(-z/sqrt2) }

// log1mexp is log(1 − eˣ) for x ≤ 0.
func log1mexp(x float64) float64 {
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}

// logGaussMass is log(Φ(b) − Φ(a)) for a < b, stable in both tails.
func logGaussMass(a, b float64) float64 {
	switch {
	case b <= 0:
		lb := logNdtr(b)
		return lb + log1mexp(logNdtr(a)-lb)
	case a >= 0:
		return logGaussMass(-b, -a)
	}
	return math.Log1p(-ndtr(a) - ndtr(-b))
}

// ndtri is Φ⁻¹(p).
func ndtri(p float64) float64 { return sqrt2 * math.Erfinv(2*p-1) }

// truncNormal draws from N(mu, sigma²) restricted to [low, high] by inverting the CDF; one
// uniform draw per sample, so the stream of draws does not depend on the values.
func truncNormal(rng *rand.Rand, mu, sigma, low, high float64) float64 {
	a, b := (low-mu)/sigma, (high-mu)/sigma
	u := rng.Float64()
	var z float64
	if a > 0 { // the whole interval is in the upper tail: sample the mirrored lower tail
		pa, pb := ndtr(-b), ndtr(-a)
		z = -ndtri(pa + u*(pb-pa))
	} else {
		pa, pb := ndtr(a), ndtr(b)
		z = ndtri(pa + u*(pb-pa))
	}
	x := mu + sigma*z
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = mu
	}
	return math.Max(low, math.Min(high, x))
}
