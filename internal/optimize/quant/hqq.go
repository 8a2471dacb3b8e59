package quant

import (
	"math"
	"slices"
)

// Half-quadratic quantization (HQQ, Badri & Shaji 2023) without data: for
// each block the zero point is moved to minimise an l_p error, which
// tolerates the few outliers that min/max ranges are set by, by alternating
// a closed-form zero-point step and a generalised soft threshold of the
// residual (p = 0.5, where the paper uses 0.7, makes the threshold
// |d|^(p-1) a reciprocal square root instead of a pow call). MatMulNBits
// runs fast only with packed integer zero points, so the optimum is rounded
// to a code and the scale refitted by least squares. With integer zero
// points the squared error can be minimised exactly instead (lsqExact): for
// the round-to-nearest zero point and its two neighbours, the best scale
// over a clipping range of 0.5-1.2 times the min/max one. A block keeps
// whichever candidate has the lowest squared error, round-to-nearest
// included, so hqq is never worse than rtn on any block.
const (
	hqqIters = 20
	hqqBeta  = 10.0
	hqqKappa = 1.01
	// Scales searched exactly, as multiples of the min/max scale: clipping
	// down to half the range pays on blocks with one outlier; above 1.2 the
	// error only grows.
	hqqScaleLo, hqqScaleHi = 0.5, 1.2
)

// hqqScratch is reused across the blocks one goroutine quantizes.
type hqqScratch struct {
	dev   []float64
	steps []uint64
}

func (w *BlockWeight) hqqBlock(wt []float32, i int, sc *hqqScratch) {
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
		// z is round-to-nearest's zero point; clipping the range keeps it
		// (it scales lo and hi alike), so this covers any clipping ratio.
		for zc := max(z-1, 0); zc <= min(z+1, qmax); zc++ {
			try(lsqExact(x, zc, qmax, s, sc), zc)
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

// scaleStep packs the point t = 1/scale past which element k's code moves
// one step away from the zero point (up if up is set) so that plain integer
// order is the order of t (float32 bits of a positive t sort as integers);
// sorting the steps is most of lsqExact's work.
func scaleStep(t float64, k int, up bool) uint64 {
	s := uint64(math.Float32bits(float32(t)))<<32 | uint64(k)<<1
	if up {
		s |= 1
	}
	return s
}

// lsqExact returns the scale in [hqqScaleLo, hqqScaleHi] x base with the
// least squared error for the integer zero point z, exactly: as t = 1/scale
// grows each element's code steps away from z at known values of t; between
// two of them the codes are fixed and the error is a quadratic in scale
// with a closed-form minimum, and the error is continuous where a code
// steps (the value is halfway between the two codes). It returns 0 when no
// scale fits (a block of zeros).
func lsqExact(x []float32, z, qmax, base float32, sc *hqqScratch) float32 {
	tlo, thi := 1/(hqqScaleHi*float64(base)), 1/(hqqScaleLo*float64(base))
	zf, qm := float64(z), float64(qmax)
	if cap(sc.dev) < len(x) {
		sc.dev = make([]float64, len(x))
	}
	d := sc.dev[:len(x)]
	ev := sc.steps[:0]
	// Sums over the block of x*x, x*d and d*d, d = code - z.
	var sxx, sxd, sdd float64
	for k, v := range x {
		xv := float64(v)
		c := math.Min(math.Max(math.RoundToEven(xv*tlo+zf), 0), qm)
		d[k] = c - zf
		sxx += xv * xv
		sxd += xv * d[k]
		sdd += d[k] * d[k]
		switch {
		case xv > 0:
			for m := c; m < qm; m++ {
				t := (m + 0.5 - zf) / xv
				if t > thi {
					break
				}
				if t > tlo {
					ev = append(ev, scaleStep(t, k, true))
				}
			}
		case xv < 0:
			for m := c; m > 0; m-- {
				t := (m - 0.5 - zf) / xv
				if t > thi {
					break
				}
				if t > tlo {
					ev = append(ev, scaleStep(t, k, false))
				}
			}
		}
	}
	slices.Sort(ev)
	sc.steps = ev
	bestE, bestT := math.Inf(1), 0.0
	// best takes the minimum of sxx - 2 s sxd + s^2 sdd over t in [a, b].
	best := func(a, b float64) {
		if sdd == 0 || sxd <= 0 {
			return
		}
		t := min(max(sdd/sxd, a), b)
		s := 1 / t
		if e := sxx - 2*s*sxd + s*s*sdd; e < bestE {
			bestE, bestT = e, t
		}
	}
	a := tlo
	for _, e := range ev {
		t := float64(math.Float32frombits(uint32(e >> 32)))
		k, delta := int(uint32(e)>>1), -1.0
		if e&1 != 0 {
			delta = 1
		}
		best(a, t)
		nd := d[k] + delta
		sxd += float64(x[k]) * delta
		sdd += nd*nd - d[k]*d[k]
		d[k] = nd
		a = t
	}
	best(a, thi)
	if bestT == 0 {
		return 0
	}
	return float32(1 / bestT)
}
