// Package calib collects activation statistics for static quantization in
// bounded memory: each collector keeps a running min/max or a fixed-size
// histogram per tensor, never the activations themselves, so calibration
// memory does not grow with the number of samples.
package calib

import (
	"fmt"
	"math"
)

// Method names a calibration method.
type Method string

// Calibration methods.
const (
	MinMax     Method = "minmax"
	Percentile Method = "percentile"
	Entropy    Method = "entropy"
)

// Options configure a Collector.
type Options struct {
	Method Method
	// Percentile is the share of values kept in range, in percent (default 99.999).
	Percentile float64
	// Bins is the histogram size for percentile and entropy (default 2048).
	Bins int
	// QuantizedBins is the number of levels the entropy method assumes
	// (default 128: the half range of an 8-bit type).
	QuantizedBins int
}

// Defaults fills unset options.
func (o Options) withDefaults() Options {
	if o.Method == "" {
		o.Method = MinMax
	}
	if o.Percentile == 0 {
		o.Percentile = 99.999
	}
	if o.Bins == 0 {
		o.Bins = 2048
	}
	if o.QuantizedBins == 0 {
		o.QuantizedBins = 128
	}
	return o
}

// Validate reports options that cannot work, naming the flag to fix.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch o.Method {
	case MinMax, Percentile, Entropy:
	default:
		return fmt.Errorf("--calibration-method %q: use minmax, percentile or entropy", o.Method)
	}
	if o.Percentile <= 50 || o.Percentile > 100 {
		return fmt.Errorf("--percentile %g is out of range: use a value in (50, 100], e.g. 99.999", o.Percentile)
	}
	if o.Bins < 16 || o.Bins > 1<<20 || o.Bins%2 != 0 {
		return fmt.Errorf("--calibration-bins %d: use an even number between 16 and 1048576", o.Bins)
	}
	if o.Method == Entropy && (o.QuantizedBins < 2 || o.QuantizedBins > o.Bins/2) {
		return fmt.Errorf("--calibration-quantized-bins %d: use a value between 2 and half the bins (%d)", o.QuantizedBins, o.Bins/2)
	}
	return nil
}

// Collector accumulates statistics of one tensor over many batches.
type Collector interface {
	// Observe adds a batch of values. Non-finite values are ignored.
	Observe(values []float32)
	// Range returns the calibrated [lo, hi]; ok is false when nothing finite
	// was observed.
	Range() (lo, hi float32, ok bool)
}

// New returns a collector for o (validate o first).
func New(o Options) Collector {
	o = o.withDefaults()
	switch o.Method {
	case Percentile:
		return &histogram{bins: make([]float64, o.Bins), lo: math.Inf(1), hi: math.Inf(-1), pick: func(h *histogram) (float64, float64) {
			return h.percentile(o.Percentile)
		}}
	case Entropy:
		return &histogram{bins: make([]float64, o.Bins), lo: math.Inf(1), hi: math.Inf(-1), pick: func(h *histogram) (float64, float64) {
			return h.entropy(o.QuantizedBins)
		}}
	}
	return &minMax{lo: math.Inf(1), hi: math.Inf(-1)}
}

type minMax struct {
	lo, hi float64
}

func (m *minMax) Observe(values []float32) {
	lo, hi := m.lo, m.hi
	for _, v := range values {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if f < lo {
			lo = f
		}
		if f > hi {
			hi = f
		}
	}
	m.lo, m.hi = lo, hi
}

func (m *minMax) Range() (float32, float32, bool) {
	if m.lo > m.hi {
		return 0, 0, false
	}
	return float32(m.lo), float32(m.hi), true
}
