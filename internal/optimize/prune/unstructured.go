package prune

import (
	"context"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// importance returns |w| of every element (into imp, reused when large
// enough), and the weight's norm under the criterion and its count of zeros.
func importance(vals []float32, criterion string, imp []float32) ([]float32, float64, int64) {
	if cap(imp) < len(vals) {
		imp = make([]float32, len(vals))
	}
	imp = imp[:len(vals)]
	var norm float64
	var zeros int64
	for i, v := range vals {
		a := math.Abs(float64(v))
		imp[i] = float32(a)
		if v == 0 {
			zeros++
		}
		if criterion == CriterionL2 {
			norm += a * a
		} else {
			norm += a
		}
	}
	if criterion == CriterionL2 {
		norm = math.Sqrt(norm)
	}
	return imp, norm, zeros
}

// applyMask zeroes the masked elements of t's data (raw, its bytes, which
// this may overwrite) and stores the result through st. Zero bits are +0.0
// in every floating-point type, so nothing else in the tensor changes.
func applyMask(st *onnx.TensorStream, t *onnxpb.TensorProto, raw []byte, mask []bool) error {
	dt := onnx.TypeOf(t)
	size := dt.ByteSize()
	for i, z := range mask {
		if z {
			clear(raw[i*size : (i+1)*size])
		}
	}
	return st.Set(t, dt, append([]int64(nil), t.GetDims()...), raw)
}

func countTrue(mask []bool) int64 {
	var n int64
	for _, z := range mask {
		if z {
			n++
		}
	}
	return n
}

// weightValues reads a target's bytes and values; both are stream buffers
// valid until the next read.
func weightValues(st *onnx.TensorStream, t *onnxpb.TensorProto, f32 []float32) ([]byte, []float32, error) {
	raw, err := st.Bytes(t)
	if err != nil {
		return nil, nil, onnx.TensorError("read weight", t, err)
	}
	dt := onnx.TypeOf(t)
	if dt != onnx.Float && dt != onnx.Float16 && dt != onnx.BFloat16 && dt != onnx.Double {
		return nil, nil, fmt.Errorf("weight %q is %v, not a float type", t.GetName(), dt)
	}
	return raw, onnx.DecodeFloats(dt, raw, f32), nil
}

// pruneUnstructured zeroes weights by magnitude (layer or global scope) or
// by an N:M pattern, and reports each layer. Weights are read, masked and
// written back one at a time; global scope first finds its threshold in two
// passes of radix histograms over the magnitudes' float32 bits (monotonic
// for non-negative floats), so memory does not grow with the model.
func pruneUnstructured(ctx context.Context, st *onnx.TensorStream, targets []*target, o *Options, r *Report) error {
	nm, isNM, err := ParsePattern(o.Pattern)
	if err != nil {
		return err
	}
	var global *globalThreshold
	if !isNM && o.Scope == ScopeGlobal {
		if global, err = findGlobalThreshold(ctx, st, targets, o.Sparsity); err != nil {
			return err
		}
	}
	var f32, imp []float32
	var maskBuf []bool // reused: a weight's mask is dead once it is applied
	for _, tg := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, vals, err := weightValues(st, tg.init, f32)
		if err != nil {
			return err
		}
		f32 = vals
		var norm float64
		var zeros int64
		// Magnitudes overwrite the values: one weight-sized float buffer.
		imp, norm, zeros = importance(vals, o.Criterion, vals)
		n := int64(len(imp))
		layer := Layer{
			Name: tg.init.GetName(), Node: nodeID(tg.node), OpType: tg.node.GetOpType(),
			Shape: append([]int64(nil), tg.init.GetDims()...), Params: n, ParamsAfter: n,
			SparsityBefore: ratio(zeros, n),
		}
		var mask []bool
		switch {
		case isNM:
			if tg.inAxis < 0 {
				r.Skipped = append(r.Skipped, Skip{Name: tg.init.GetName(), Node: nodeID(tg.node), Reason: "input dimension of the weight is unknown, so N:M groups cannot be formed"})
				continue
			}
			mask = nmMask(imp, tg.init.GetDims(), tg.inAxis, nm.N, nm.M)
		case global != nil:
			mask = global.maskInto(imp, maskBuf)
			maskBuf = mask
		default:
			mask = radixThreshold([][]float32{imp}, int64(roundHalfEven(o.Sparsity*float64(len(imp))))).maskInto(imp, maskBuf)
			maskBuf = mask
		}
		var keptNorm float64
		zeros = countTrue(mask)
		for j, x := range imp {
			if mask[j] {
				continue
			}
			if x == 0 {
				zeros++
			}
			if o.Criterion == CriterionL2 {
				keptNorm += float64(x) * float64(x)
			} else {
				keptNorm += float64(x)
			}
		}
		if o.Criterion == CriterionL2 {
			keptNorm = math.Sqrt(keptNorm)
		}
		if err := applyMask(st, tg.init, raw, mask); err != nil {
			return err
		}
		layer.SparsityAfter = ratio(zeros, layer.Params)
		layer.NormRetained = 1
		if norm > 0 {
			layer.NormRetained = keptNorm / norm
		}
		r.Layers = append(r.Layers, layer)
	}
	return nil
}

// globalThreshold is the k-th smallest magnitude over all targets, and how
// many elements equal to it are still to be pruned (ties go to the first
// ones in target order, as smallestMask does).
type globalThreshold struct {
	thr   float32
	atThr int64
	none  bool // k == 0
}

func (g *globalThreshold) mask(imp []float32) []bool { return g.maskInto(imp, nil) }

// maskInto is mask writing into dst when it is large enough.
func (g *globalThreshold) maskInto(imp []float32, dst []bool) []bool {
	if cap(dst) < len(imp) {
		dst = make([]bool, len(imp))
	}
	mask := dst[:len(imp)]
	clear(mask)
	if g.none {
		return mask
	}
	for j, x := range imp {
		if x < g.thr || (x == g.thr && g.atThr > 0) {
			if x == g.thr {
				g.atThr--
			}
			mask[j] = true
		}
	}
	return mask
}

// findGlobalThreshold reads every target twice: a histogram of the high 16
// bits of each magnitude, then of the low 16 bits inside the bin that holds
// the k-th smallest.
func findGlobalThreshold(ctx context.Context, st *onnx.TensorStream, targets []*target, sparsity float64) (*globalThreshold, error) {
	var f32, imp []float32
	pass := func(fn func(bits uint32)) (int64, error) {
		var total int64
		for _, tg := range targets {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			_, vals, err := weightValues(st, tg.init, f32)
			if err != nil {
				return 0, err
			}
			f32 = vals
			imp, _, _ = importance(vals, CriterionL1, vals)
			for _, x := range imp {
				fn(math.Float32bits(x))
			}
			total += int64(len(imp))
		}
		return total, nil
	}
	return radixSelect(pass, func(total int64) int64 { return int64(roundHalfEven(sparsity * float64(total))) })
}

// radixThreshold is findGlobalThreshold over magnitudes held in memory
// (layer scope): exact, without the sorted copy a selection would need.
func radixThreshold(imps [][]float32, k int64) *globalThreshold {
	g, _ := radixSelect(func(fn func(bits uint32)) (int64, error) {
		var total int64
		for _, v := range imps {
			for _, x := range v {
				fn(math.Float32bits(x))
			}
			total += int64(len(v))
		}
		return total, nil
	}, func(int64) int64 { return k })
	return g
}

// radixSelect finds the k-th smallest of the non-negative float32 values
// that pass feeds (as bits) in two passes: a histogram of the high 16 bits,
// then of the low 16 bits inside the bin that holds the k-th smallest. k is
// computed from the count the first pass finds.
func radixSelect(pass func(fn func(bits uint32)) (int64, error), kOf func(total int64) int64) (*globalThreshold, error) {
	hi := make([]int64, 1<<16)
	total, err := pass(func(b uint32) { hi[b>>16]++ })
	if err != nil {
		return nil, err
	}
	k := kOf(total)
	if k <= 0 || total == 0 {
		return &globalThreshold{none: true}, nil
	}
	k = min(k, total)
	// The k-th smallest (1-based) lies in the first high bin whose
	// cumulative count reaches k.
	var below int64
	bin := 0
	for ; bin < len(hi); bin++ {
		if below+hi[bin] >= k {
			break
		}
		below += hi[bin]
	}
	lo := make([]int64, 1<<16)
	if _, err := pass(func(b uint32) {
		if int(b>>16) == bin {
			lo[b&0xffff]++
		}
	}); err != nil {
		return nil, err
	}
	low := 0
	for ; low < len(lo); low++ {
		if below+lo[low] >= k {
			break
		}
		below += lo[low]
	}
	return &globalThreshold{thr: math.Float32frombits(uint32(bin)<<16 | uint32(low)), atThr: k - below}, nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
