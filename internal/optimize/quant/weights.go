package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Weight is a quantized constant tensor with its parameters: one Params for
// per-tensor quantization, one per slice along Axis for per-channel.
type Weight struct {
	Type   QType
	Data   []byte // one byte per element, same layout as the float tensor
	Params []Params
	Axis   int // meaningful only when len(Params) > 1
}

// Scales returns the scales in channel order.
func (w *Weight) Scales() []float32 {
	s := make([]float32, len(w.Params))
	for i, p := range w.Params {
		s[i] = p.Scale
	}
	return s
}

// ZeroPointBytes returns the zero points encoded for an ONNX tensor.
func (w *Weight) ZeroPointBytes() []byte {
	b := make([]byte, len(w.Params))
	for i, p := range w.Params {
		b[i] = ZeroPointByte(p.ZeroPoint, w.Type)
	}
	return b
}

// WeightOptions chooses how a weight is quantized.
type WeightOptions struct {
	Type        QType
	Symmetric   bool
	ReduceRange bool
	// PerChannel quantizes each slice along Axis with its own parameters.
	PerChannel bool
	Axis       int
	// Range, when set, is the range of data's finite values (as minMax
	// finds it), already known to the caller; per-tensor only.
	Range *[2]float32
	// Dst, when large enough, receives the quantized bytes (Weight.Data
	// then aliases it) instead of a new allocation.
	Dst []byte
}

// QuantizeWeight quantizes a float32 tensor of the given shape.
func QuantizeWeight(data []float32, shape []int64, o WeightOptions) (*Weight, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("weight shape %v has a negative dimension", shape)
		}
		if d > 0 && n > math.MaxInt64/d {
			return nil, fmt.Errorf("weight shape %v is too large", shape)
		}
		n *= d
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("weight with shape %v is empty", shape)
	}
	if n != int64(len(data)) {
		return nil, fmt.Errorf("weight shape %v holds %d values, tensor has %d", shape, n, len(data))
	}
	w := &Weight{Type: o.Type}
	if cap(o.Dst) >= len(data) {
		w.Data = o.Dst[:len(data)]
	} else {
		w.Data = make([]byte, len(data))
	}
	if !o.PerChannel || len(shape) == 0 {
		var lo, hi float32
		if o.Range != nil {
			lo, hi = o.Range[0], o.Range[1]
		} else {
			lo, hi = parallelMinMax(data)
		}
		p, err := ComputeParams(lo, hi, o.Type, o.Symmetric, o.ReduceRange)
		if err != nil {
			return nil, fmt.Errorf("weight: %w", err)
		}
		parallelFor(len(data), func(a, b int) { QuantizeInto(w.Data[a:b], data[a:b], p, o.Type) })
		w.Params = []Params{p}
		return w, nil
	}
	axis := o.Axis
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		return nil, fmt.Errorf("per-channel axis %d out of range for shape %v", o.Axis, shape)
	}
	channels := int(shape[axis])
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= int(d)
	}
	outer := len(data) / max(channels*inner, 1)
	los := make([]float32, channels)
	his := make([]float32, channels)
	for c := range channels {
		los[c], his[c] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	for k := 0; k < outer; k++ {
		for c := 0; c < channels; c++ {
			base := (k*channels + c) * inner
			lo, hi := minMax(data[base : base+inner])
			los[c] = min(los[c], lo)
			his[c] = max(his[c], hi)
		}
	}
	w.Axis = axis
	w.Params = make([]Params, channels)
	for c := range channels {
		if len(data) == 0 {
			los[c], his[c] = 0, 0
		}
		p, err := ComputeParams(los[c], his[c], o.Type, o.Symmetric, o.ReduceRange)
		if err != nil {
			return nil, fmt.Errorf("weight channel %d: %w", c, err)
		}
		w.Params[c] = p
	}
	// Quantize slice by slice; slices are split across cores when large.
	parallelFor(outer*channels, func(a, b int) {
		for s := a; s < b; s++ {
			base := s * inner
			QuantizeInto(w.Data[base:base+inner], data[base:base+inner], w.Params[s%channels], w.Type)
		}
	})
	return w, nil
}

// parallelFor splits [0, n) into one contiguous chunk per CPU when n is
// large enough for that to pay off.
func parallelFor(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 1<<16 || workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

func parallelMinMax(x []float32) (float32, float32) {
	var mu sync.Mutex
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	parallelFor(len(x), func(a, b int) {
		l, h := minMax(x[a:b])
		mu.Lock()
		lo, hi = min(lo, l), max(hi, h)
		mu.Unlock()
	})
	if len(x) == 0 {
		return 0, 0
	}
	return lo, hi
}

// minMax returns the range of finite values in x (0, 0 when empty).
func minMax(x []float32) (lo, hi float32) {
	if len(x) == 0 {
		return 0, 0
	}
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if isBad(lo) || isBad(hi) {
		lo, hi = 0, 0
		for _, v := range x {
			if isBad(v) {
				continue
			}
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	return lo, hi
}

// QuantizeBias quantizes a float bias to int32 with scale inputScale *
// weightScale (per output channel when weightScales has one entry per
// channel) and zero point 0, as QLinearConv and QDQ Conv/Gemm expect.
func QuantizeBias(bias []float32, inputScale float32, weightScales []float32) ([]int32, []float32, error) {
	if len(weightScales) != 1 && len(weightScales) != len(bias) {
		return nil, nil, fmt.Errorf("bias has %d values but weight has %d scales", len(bias), len(weightScales))
	}
	q := make([]int32, len(bias))
	scales := make([]float32, len(weightScales))
	for i := range weightScales {
		scales[i] = inputScale * weightScales[i]
	}
	for i, b := range bias {
		s := scales[0]
		if len(scales) > 1 {
			s = scales[i]
		}
		if s == 0 {
			continue
		}
		v := math.RoundToEven(float64(b / s))
		v = math.Max(math.MinInt32, math.Min(math.MaxInt32, v))
		if math.IsNaN(v) {
			v = 0
		}
		q[i] = int32(v)
	}
	return q, scales, nil
}
