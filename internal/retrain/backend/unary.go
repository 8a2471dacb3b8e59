package backend

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend/extension"
)

// unaryKernelOf returns the float32 kernel of the unary ops replaced here: the cheap ones that
// training graphs apply to whole activations (Sign for ReLU's gradient, Neg, Abs), with
// upstream's exact semantics (Sign of NaN and of ±0 is 0).
func unaryKernelOf(op compute.OpType) (func(out, in []float32), bool) {
	switch op {
	case compute.OpTypeSign:
		return func(out, in []float32) {
			// Branch-free: activations' signs are close to random.
			for i, v := range in {
				out[i] = float32(b2i(v > 0) - b2i(v < 0))
			}
		}, true
	case compute.OpTypeNeg:
		return func(out, in []float32) {
			for i, v := range in {
				out[i] = -v
			}
		}, true
	case compute.OpTypeAbs:
		return func(out, in []float32) {
			for i, v := range in {
				out[i] = float32(math.Abs(float64(v)))
			}
		}, true
	}
	return nil, false
}

// unaryExecutor runs float32 nodes of a unary op in parallel chunks, in place when the input
// is donated (as upstream), and hands other dtypes to previous.
func unaryExecutor(kernel func(out, in []float32), previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		in, ok := inputs[0].Flat.([]float32)
		if !ok {
			return previous(be, node, inputs, owned)
		}
		out := inputs[0]
		if owned[0] {
			inputs[0] = nil
		} else {
			var err error
			if out, err = be.GetBuffer(inputs[0].RawShape); err != nil {
				return nil, err
			}
		}
		o := out.Flat.([]float32)
		forChunks(len(in), func(lo, hi int) { kernel(o[lo:hi], in[lo:hi]) })
		return out, nil
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
