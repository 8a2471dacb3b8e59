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
		return signKernel, true
	case compute.OpTypeNeg:
		return negKernel, true
	case compute.OpTypeAbs:
		return absKernel, true
	}
	return nil, false
}

// signKernel is branch-free: activations' signs are close to random.
func signKernel(out, in []float32) {
	out = out[:len(in)]
	for i := accelSign(out, in); i < len(in); i++ {
		v := in[i]
		var s int32 // selected with conditional moves, not branches
		if v > 0 {
			s = 1
		}
		if v < 0 {
			s = -1
		}
		out[i] = float32(s)
	}
}

func negKernel(out, in []float32) {
	out = out[:len(in)]
	for i, v := range in {
		out[i] = -v
	}
}

func absKernel(out, in []float32) {
	out = out[:len(in)]
	for i, v := range in {
		out[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
	}
}

// unaryExecutor runs float32 nodes of a unary op in parallel chunks, in place when the input
// is donated (as upstream), and hands other dtypes to previous.
func unaryExecutor(kernel func(out, in []float32), previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		if d, ok := node.Data.(*fusedNode); ok {
			return execFused(be, node, d, inputs, owned)
		}
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
