package prune

import (
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// importance returns |w| of every element, and the weight's norm under the
// criterion and its count of zeros.
func importance(m *onnx.Model, t *onnxpb.TensorProto, criterion string) (imp []float32, norm float64, zeros int64, err error) {
	vals, err := onnx.AsFloat64s(m, t)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read weight %q: %w", t.GetName(), err)
	}
	imp = make([]float32, len(vals))
	for i, v := range vals {
		a := math.Abs(v)
		imp[i] = float32(a)
		if v == 0 {
			zeros++
		}
		if criterion == CriterionL2 {
			norm += v * v
		} else {
			norm += a
		}
	}
	if criterion == CriterionL2 {
		norm = math.Sqrt(norm)
	}
	return imp, norm, zeros, nil
}

// applyMask zeroes the masked elements of t in place of its data. Zero bits
// are +0.0 in every floating-point type, so the raw bytes are cleared
// directly and nothing else in the tensor changes.
func applyMask(m *onnx.Model, t *onnxpb.TensorProto, mask []bool) error {
	raw, err := onnx.RawBytes(m, t)
	if err != nil {
		return fmt.Errorf("read weight %q: %w", t.GetName(), err)
	}
	dt := onnx.TypeOf(t)
	size := dt.ByteSize()
	out := make([]byte, len(raw))
	copy(out, raw)
	for i, z := range mask {
		if z {
			clear(out[i*size : (i+1)*size])
		}
	}
	return onnx.SetRaw(t, dt, append([]int64(nil), t.GetDims()...), out)
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

// pruneUnstructured zeroes weights by magnitude (layer or global scope) or
// by an N:M pattern, and reports each layer.
func pruneUnstructured(m *onnx.Model, targets []*target, o *Options, r *Report) error {
	nm, isNM, err := ParsePattern(o.Pattern)
	if err != nil {
		return err
	}
	imps := make([][]float32, len(targets))
	norms := make([]float64, len(targets))
	layers := make([]Layer, len(targets))
	for i, tg := range targets {
		imp, norm, zeros, err := importance(m, tg.init, o.Criterion)
		if err != nil {
			return err
		}
		imps[i], norms[i] = imp, norm
		n := int64(len(imp))
		layers[i] = Layer{
			Name: tg.init.GetName(), Node: nodeID(tg.node), OpType: tg.node.GetOpType(),
			Shape: append([]int64(nil), tg.init.GetDims()...), Params: n, ParamsAfter: n,
			SparsityBefore: ratio(zeros, n),
		}
	}

	masks := make([][]bool, len(targets))
	switch {
	case isNM:
		for i, tg := range targets {
			if tg.inAxis < 0 {
				r.Skipped = append(r.Skipped, Skip{Name: tg.init.GetName(), Node: nodeID(tg.node), Reason: "input dimension of the weight is unknown, so N:M groups cannot be formed"})
				continue
			}
			masks[i] = nmMask(imps[i], tg.init.GetDims(), tg.inAxis, nm.N, nm.M)
		}
	case o.Scope == ScopeGlobal:
		total := 0
		for _, v := range imps {
			total += len(v)
		}
		masks = smallestMask(imps, roundHalfEven(o.Sparsity*float64(total)))
	default:
		for i, v := range imps {
			masks[i] = smallestMask([][]float32{v}, roundHalfEven(o.Sparsity*float64(len(v))))[0]
		}
	}

	for i, tg := range targets {
		if masks[i] == nil {
			continue
		}
		var keptNorm float64
		zeros := countTrue(masks[i])
		for j, x := range imps[i] {
			if masks[i][j] {
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
		if err := applyMask(m, tg.init, masks[i]); err != nil {
			return err
		}
		layers[i].SparsityAfter = ratio(zeros, layers[i].Params)
		layers[i].NormRetained = 1
		if norms[i] > 0 {
			layers[i].NormRetained = keptNorm / norms[i]
		}
		r.Layers = append(r.Layers, layers[i])
	}
	return nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
