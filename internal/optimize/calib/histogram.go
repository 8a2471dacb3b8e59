package calib

import "math"

// histogram counts values in len(bins) equal bins over [-limit, limit]. When a
// value falls outside, limit doubles (as often as needed) and pairs of bins
// merge exactly, so the histogram never needs the raw values again.
type histogram struct {
	bins   []float64
	limit  float64
	lo, hi float64 // exact observed extremes
	count  float64
	pick   func(*histogram) (float64, float64)
}

func (h *histogram) Observe(values []float32) {
	absMax := 0.0
	for _, v := range values {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		absMax = math.Max(absMax, math.Abs(f))
	}
	if h.limit == 0 {
		if absMax == 0 {
			absMax = 1e-12
		}
		h.limit = absMax
	}
	for absMax > h.limit {
		h.grow()
	}
	n := len(h.bins)
	width := 2 * h.limit / float64(n)
	for _, v := range values {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		h.lo = math.Min(h.lo, f)
		h.hi = math.Max(h.hi, f)
		i := int((f + h.limit) / width)
		if i >= n {
			i = n - 1
		} else if i < 0 {
			i = 0
		}
		h.bins[i]++
		h.count++
	}
}

// grow doubles the range: old bin i lands in new bin (n/2+i)/2.
func (h *histogram) grow() {
	n := len(h.bins)
	merged := make([]float64, n)
	for i, c := range h.bins {
		merged[(n/2+i)/2] += c
	}
	h.bins = merged
	h.limit *= 2
}

func (h *histogram) Range() (float32, float32, bool) {
	if h.count == 0 {
		return 0, 0, false
	}
	lo, hi := h.pick(h)
	// Never widen past what was seen: a ReLU output keeps lo = 0.
	lo = math.Max(lo, h.lo)
	hi = math.Min(hi, h.hi)
	if lo > hi {
		lo, hi = h.lo, h.hi
	}
	return float32(lo), float32(hi), true
}

// edge returns the value of the left edge of bin i.
func (h *histogram) edge(i int) float64 {
	return -h.limit + 2*h.limit*float64(i)/float64(len(h.bins))
}

// percentile keeps p percent of the values, cutting (100-p)/2 from each tail.
func (h *histogram) percentile(p float64) (float64, float64) {
	tail := h.count * (100 - p) / 200
	n := len(h.bins)
	lo, hi := h.lo, h.hi
	acc := 0.0
	for i := 0; i < n; i++ {
		acc += h.bins[i]
		if acc > tail {
			lo = h.edge(i)
			break
		}
	}
	acc = 0
	for i := n - 1; i >= 0; i-- {
		acc += h.bins[i]
		if acc > tail {
			hi = h.edge(i + 1)
			break
		}
	}
	return lo, hi
}

// entropy picks the symmetric threshold whose clipped, quantized
// distribution has the smallest KL divergence from the observed one
// (the TensorRT-style method ORT calls "Entropy").
func (h *histogram) entropy(levels int) (float64, float64) {
	n := len(h.bins)
	half := n / 2
	best, bestT := math.Inf(1), half
	p := make([]float64, 0, n)
	q := make([]float64, 0, n)
	for t := max(levels/2, 1); t <= half; t++ {
		start, stop := half-t, half+t
		p = append(p[:0], h.bins[start:stop]...)
		// Outliers are folded into the edge bins.
		for i := 0; i < start; i++ {
			p[0] += h.bins[i]
		}
		for i := stop; i < n; i++ {
			p[len(p)-1] += h.bins[i]
		}
		q = quantizeDist(q[:0], h.bins[start:stop], levels)
		d := kl(p, q)
		if d < best {
			best, bestT = d, t
		}
	}
	return h.edge(half - bestT), h.edge(half + bestT)
}

// quantizeDist merges src into levels groups and spreads each group's mass
// evenly over the group's non-empty bins.
func quantizeDist(dst, src []float64, levels int) []float64 {
	n := len(src)
	dst = append(dst, make([]float64, n)...)
	if levels > n {
		levels = n
	}
	for g := 0; g < levels; g++ {
		a := g * n / levels
		b := (g + 1) * n / levels
		sum, nonzero := 0.0, 0
		for i := a; i < b; i++ {
			sum += src[i]
			if src[i] != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			continue
		}
		for i := a; i < b; i++ {
			if src[i] != 0 {
				dst[i] = sum / float64(nonzero)
			}
		}
	}
	return dst
}

// kl returns KL(p||q) of the normalized distributions, with q smoothed so
// that bins where p has mass and q has none cost a large finite amount.
func kl(p, q []float64) float64 {
	sp, sq := 0.0, 0.0
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 {
		return 0
	}
	if sq == 0 {
		return math.Inf(1)
	}
	const eps = 1e-10
	d := 0.0
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := q[i] / sq
		if qi < eps {
			qi = eps
		}
		d += pi * math.Log(pi/qi)
	}
	return d
}
