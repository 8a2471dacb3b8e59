package calib

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMinMax(t *testing.T) {
	c := New(Options{Method: MinMax})
	if _, _, ok := c.Range(); ok {
		t.Fatal("empty collector reports a range")
	}
	c.Observe([]float32{1, -2, float32(math.NaN())})
	c.Observe([]float32{3, float32(math.Inf(1))})
	lo, hi, ok := c.Range()
	if !ok || lo != -2 || hi != 3 {
		t.Errorf("range = %v %v %v, want -2 3", lo, hi, ok)
	}
}

func TestHistogramGrowKeepsCountsAndBoundedSize(t *testing.T) {
	h := New(Options{Method: Percentile, Bins: 64}).(*histogram)
	h.Observe([]float32{0.1, -0.1, 0.05})
	h.Observe([]float32{100, -37})
	h.Observe([]float32{1e6})
	if len(h.bins) != 64 {
		t.Fatalf("histogram size changed to %d", len(h.bins))
	}
	sum := 0.0
	for _, c := range h.bins {
		sum += c
	}
	if sum != 6 || h.count != 6 {
		t.Errorf("counts after growth = %v (count %v), want 6", sum, h.count)
	}
	if h.limit < 1e6 {
		t.Errorf("limit %v does not cover the largest value", h.limit)
	}
	lo, hi, _ := h.Range()
	if lo < -37 || hi > 1e6 {
		t.Errorf("range [%v,%v] wider than observed", lo, hi)
	}
}

func TestPercentileClipsOutliers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := New(Options{Method: Percentile, Percentile: 99, Bins: 2048})
	for b := 0; b < 20; b++ {
		x := make([]float32, 5000)
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1) // uniform [-1, 1]
		}
		c.Observe(x)
	}
	c.Observe([]float32{50, -40})
	lo, hi, _ := c.Range()
	// 0.5% per tail of U(-1,1): thresholds near ±0.99
	if math.Abs(float64(hi)-0.99) > 0.01 || math.Abs(float64(lo)+0.99) > 0.01 {
		t.Errorf("percentile 99 range = [%v, %v], want about ±0.99", lo, hi)
	}
	mm := New(Options{Method: MinMax})
	mm.Observe([]float32{50, -40})
	if l, h, _ := mm.Range(); l != -40 || h != 50 {
		t.Errorf("minmax must keep outliers: %v %v", l, h)
	}
}

func TestEntropyClipsLongTail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := New(Options{Method: Entropy, Bins: 2048, QuantizedBins: 128})
	x := make([]float32, 100000)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	x[0] = 40 // a single far outlier
	c.Observe(x)
	lo, hi, _ := c.Range()
	if hi >= 40 || hi < 2 || lo > -2 {
		t.Errorf("entropy range = [%v, %v]: want the outlier clipped and the bulk (±2σ) kept", lo, hi)
	}
}

func TestReluOutputKeepsZeroLowerBound(t *testing.T) {
	for _, m := range []Method{Percentile, Entropy} {
		c := New(Options{Method: m})
		x := make([]float32, 1000)
		for i := range x {
			x[i] = float32(i) / 100
		}
		c.Observe(x)
		lo, hi, _ := c.Range()
		if lo != 0 || hi <= 5 {
			t.Errorf("%s: range [%v, %v], want lo 0 and hi near 10", m, lo, hi)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Options{
		{Method: "kl"},
		{Method: Percentile, Percentile: 30},
		{Method: Percentile, Bins: 7},
		{Method: Entropy, Bins: 64, QuantizedBins: 128},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
	if err := (Options{Method: Entropy}).Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}
