package quant

import "math"

// Half-quadratic quantization (HQQ, Badri & Shaji 2023) without data: for
// each block the zero point is moved to minimise an l_p error, which
// tolerates the few outliers that min/max ranges are set by, by alternating
// a closed-form zero-point step and a generalised soft threshold of the
// residual (p = 0.5, where the paper uses 0.7, makes the threshold
// |d|^(p-1) a reciprocal square root instead of a pow call). MatMulNBits
// runs fast only with packed integer zero points, so the optimum is rounded
// to a code and the scale refitted by least squares; a small search of
// clipping ratios of the min/max range competes with it, and a block keeps
// whichever has the lowest squared error, round-to-nearest included, so
// hqq is never worse than rtn on any block.
const (
	hqqIters = 20
	hqqBeta  = 10.0
	hqqKappa = 1.01
)

func (w *BlockWeight) hqqBlock(wt []float32, i int) {
	x, q := w.block(wt, i)
	qmax := w.qmax()
	symmetric := w.FloatZeroPoints == nil && w.ZeroPoints == nil
	s, z := blockParams(x, w.Bits, symmetric)
	bestS, bestZ := s, z
	best := blockSSE(x, s, z, qmax)
	try := func(s, z float32) {
		if s == 0 || isBad(s) || isBad(z) {
			return
		}
		if e := blockSSE(x, s, z, qmax); e < best {
			best, bestS, bestZ = e, s, z
		}
	}
	if symmetric {
		// No zero point to move: search the scale (a clipping ratio).
		for r := float32(0.98); r >= 0.5; r -= 0.02 {
			try(s*r, z)
		}
	} else {
		lo, hi := float32(0), float32(0)
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		for r := float32(0.975); r >= 0.8; r -= 0.025 {
			if sc := (hi - lo) * r / qmax; sc > 0 {
				zc := min(max(float32(math.RoundToEven(float64(-lo*r/sc))), 0), qmax)
				try(sc, zc)
				try(lsqScale(x, sc, zc, qmax), zc)
			}
		}
		s, z = hqqZero(x, qmax)
		if w.FloatZeroPoints == nil {
			// Integer zero points: round the optimum into the code range.
			z = min(max(float32(math.RoundToEven(float64(z))), 0), qmax)
		}
		try(s, z)
		try(lsqScale(x, s, z, qmax), z)
	}
	encodeBlock(q, x, bestS, bestZ, qmax)
	w.Scales[i] = bestS
	switch {
	case w.FloatZeroPoints != nil:
		w.FloatZeroPoints[i] = bestZ
	case w.ZeroPoints != nil:
		w.ZeroPoints[i] = uint8(bestZ)
	}
}

// hqqZero runs the half-quadratic zero-point iterations from the block's
// own min/max range (zero not forced into it: the zero point is a float).
func hqqZero(x []float32, qmax float32) (scale, zero float32) {
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		if lo == 0 {
			return 1, 0
		}
		return abs32(lo), -lo / abs32(lo)
	}
	scale = (hi - lo) / qmax
	inv := 1 / float64(scale)
	z := -float64(lo) * inv
	beta := hqqBeta
	bestErr := math.Inf(1)
	bestZ := z
	for it := 0; it < hqqIters; it++ {
		var sum, l1 float64
		for _, v := range x {
			c := math.Min(math.Max(math.RoundToEven(float64(v)*inv+z), 0), float64(qmax))
			r := (c - z) / inv
			d := float64(v) - r
			l1 += math.Abs(d)
			// Generalised soft threshold of the residual for an l_p penalty.
			e := 0.0
			if a := math.Abs(d); a > 0 {
				e = math.Copysign(math.Max(a-1/(math.Sqrt(a)*beta), 0), d)
			}
			sum += c - (float64(v)-e)*inv
		}
		if l1 < bestErr {
			bestErr, bestZ = l1, z
		} else {
			break
		}
		z = sum / float64(len(x))
		beta *= hqqKappa
	}
	return scale, float32(bestZ)
}

// lsqScale is the scale that minimises the squared error of x with the
// codes it has under (scale, zero).
func lsqScale(x []float32, scale, zero, qmax float32) float32 {
	inv := 1 / scale
	var num, den float64
	for _, v := range x {
		c := min(max(float32(math.RoundToEven(float64(v*inv+zero))), 0), qmax)
		d := float64(c - zero)
		num += float64(v) * d
		den += d * d
	}
	if den == 0 {
		return scale
	}
	return float32(num / den)
}
