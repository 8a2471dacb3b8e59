package backend

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapes"
)

// float32 binary ops with implicit broadcasting (the go backend broadcasts axes of size 1 at
// execution), parallel over fixed chunks of the output. Upstream walks every element through a
// generic index iterator; here the axes are first merged into runs that both operands read
// either contiguously or as one repeated value.

type binaryFn func(out, a, b []float32)               // out[i] = a[i] ∘ b[i]
type binaryScalarFn func(out, a []float32, b float32) // out[i] = a[i] ∘ b
type scalarBinaryFn func(out []float32, a float32, b []float32)

type binaryKernel struct {
	vv binaryFn
	vs binaryScalarFn
	sv scalarBinaryFn
}

// binaryKernelOf returns the kernels of a binary op, ok false for the ops not covered.
func binaryKernelOf(op compute.OpType) (k binaryKernel, ok bool) {
	switch op {
	case compute.OpTypeAdd:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				a, b = a[:len(o)], b[:len(o)]
				for i := accelVV(compute.OpTypeAdd, o, a, b); i < len(o); i++ {
					o[i] = a[i] + b[i]
				}
			},
			vs: func(o, a []float32, b float32) {
				a = a[:len(o)]
				for i := accelVS(compute.OpTypeAdd, o, a, b); i < len(o); i++ {
					o[i] = a[i] + b
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				b = b[:len(o)]
				for i := accelSV(compute.OpTypeAdd, o, a, b); i < len(o); i++ {
					o[i] = a + b[i]
				}
			},
		}, true
	case compute.OpTypeSub:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				a, b = a[:len(o)], b[:len(o)]
				for i := accelVV(compute.OpTypeSub, o, a, b); i < len(o); i++ {
					o[i] = a[i] - b[i]
				}
			},
			vs: func(o, a []float32, b float32) {
				a = a[:len(o)]
				for i := accelVS(compute.OpTypeSub, o, a, b); i < len(o); i++ {
					o[i] = a[i] - b
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				b = b[:len(o)]
				for i := accelSV(compute.OpTypeSub, o, a, b); i < len(o); i++ {
					o[i] = a - b[i]
				}
			},
		}, true
	case compute.OpTypeMul:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				a, b = a[:len(o)], b[:len(o)]
				for i := accelVV(compute.OpTypeMul, o, a, b); i < len(o); i++ {
					o[i] = a[i] * b[i]
				}
			},
			vs: func(o, a []float32, b float32) {
				a = a[:len(o)]
				for i := accelVS(compute.OpTypeMul, o, a, b); i < len(o); i++ {
					o[i] = a[i] * b
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				b = b[:len(o)]
				for i := accelSV(compute.OpTypeMul, o, a, b); i < len(o); i++ {
					o[i] = a * b[i]
				}
			},
		}, true
	case compute.OpTypeDiv:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				a, b = a[:len(o)], b[:len(o)]
				for i := accelVV(compute.OpTypeDiv, o, a, b); i < len(o); i++ {
					o[i] = a[i] / b[i]
				}
			},
			vs: func(o, a []float32, b float32) {
				a = a[:len(o)]
				for i := accelVS(compute.OpTypeDiv, o, a, b); i < len(o); i++ {
					o[i] = a[i] / b
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				b = b[:len(o)]
				for i := accelSV(compute.OpTypeDiv, o, a, b); i < len(o); i++ {
					o[i] = a / b[i]
				}
			},
		}, true
	case compute.OpTypeMax:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				for i := range o {
					o[i] = max(a[i], b[i])
				}
			},
			vs: func(o, a []float32, b float32) {
				for i := range o {
					o[i] = max(a[i], b)
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				for i := range o {
					o[i] = max(a, b[i])
				}
			},
		}, true
	case compute.OpTypeMin:
		return binaryKernel{
			vv: func(o, a, b []float32) {
				for i := range o {
					o[i] = min(a[i], b[i])
				}
			},
			vs: func(o, a []float32, b float32) {
				for i := range o {
					o[i] = min(a[i], b)
				}
			},
			sv: func(o []float32, a float32, b []float32) {
				for i := range o {
					o[i] = min(a, b[i])
				}
			},
		}, true
	}
	return k, false
}

// binaryExecutor runs float32 nodes of one binary op and hands the rest to previous.
func binaryExecutor(k binaryKernel, previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		if d, ok := node.Data.(*fusedNode); ok {
			return execFused(be, node, d, inputs, owned)
		}
		lhs, rhs := inputs[0], inputs[1]
		a, okA := lhs.Flat.([]float32)
		b, okB := rhs.Flat.([]float32)
		rank := node.Shape.Rank()
		if !okA || !okB || (len(a) != 1 && lhs.RawShape.Rank() != rank) || (len(b) != 1 && rhs.RawShape.Rank() != rank) {
			return previous(be, node, inputs, owned)
		}
		// Reuse a donated input of the output's shape, as upstream does.
		var out *extension.Buffer
		switch {
		case owned[1] && rhs.RawShape.Equal(node.Shape):
			out, inputs[1] = rhs, nil
		case owned[0] && lhs.RawShape.Equal(node.Shape):
			out, inputs[0] = lhs, nil
		default:
			var err error
			if out, err = be.GetBuffer(node.Shape); err != nil {
				return nil, err
			}
		}
		broadcastBinary(k, out.Flat.([]float32), a, b, out.RawShape, lhs.RawShape, rhs.RawShape)
		return out, nil
	}
}

// broadcastBinary computes out = a ∘ b, broadcasting axes of size 1. out may alias a or b when
// it has their shape (each element is read before it is written).
func broadcastBinary(k binaryKernel, out, a, b []float32, outS, aS, bS shapes.Shape) {
	n := len(out)
	if n == 0 {
		return
	}
	// Merge axes into groups where each operand is either full or broadcast throughout.
	var dims []int
	var aFull, bFull []bool
	for ax, d := range outS.Dimensions {
		if d == 1 {
			continue
		}
		af, bf := len(a) != 1 && aS.Dimensions[ax] != 1, len(b) != 1 && bS.Dimensions[ax] != 1
		if l := len(dims) - 1; l >= 0 && aFull[l] == af && bFull[l] == bf {
			dims[l] *= d
			continue
		}
		dims, aFull, bFull = append(dims, d), append(aFull, af), append(bFull, bf)
	}
	if len(dims) == 0 { // all size 1
		k.vv(out, a, b)
		return
	}
	// Strides of each operand over the merged axes (0 where broadcast).
	r := len(dims)
	aStr, bStr := make([]int, r), make([]int, r)
	as, bs := 1, 1
	for g := r - 1; g >= 0; g-- {
		if aFull[g] {
			aStr[g], as = as, as*dims[g]
		}
		if bFull[g] {
			bStr[g], bs = bs, bs*dims[g]
		}
	}
	inner := dims[r-1]
	rows := n / inner
	row := func(i int) {
		ao, bo, rem := 0, 0, i
		for g := r - 2; g >= 0; g-- {
			c := rem % dims[g]
			rem /= dims[g]
			ao += c * aStr[g]
			bo += c * bStr[g]
		}
		o := out[i*inner : (i+1)*inner]
		switch {
		case aFull[r-1] && bFull[r-1]:
			k.vv(o, a[ao:ao+inner], b[bo:bo+inner])
		case aFull[r-1]:
			k.vs(o, a[ao:ao+inner], b[bo])
		case bFull[r-1]:
			k.sv(o, a[ao], b[bo:bo+inner])
		default:
			k.vs(o, a[ao:ao+1], b[bo]) // unreachable: a merged axis is full on one side
		}
	}
	if rows == 1 {
		// One long run: split it instead.
		forChunks(inner, func(lo, hi int) {
			switch {
			case aFull[0] && bFull[0]:
				k.vv(out[lo:hi], a[lo:hi], b[lo:hi])
			case aFull[0]:
				k.vs(out[lo:hi], a[lo:hi], b[0])
			default:
				k.sv(out[lo:hi], a[0], b[lo:hi])
			}
		})
		return
	}
	forSlices(rows, inner, row)
}

// forChunks splits [0, n) into fixed chunks of elementwise work, in parallel when that pays.
func forChunks(n int, fn func(lo, hi int)) {
	const chunk = 1 << 14
	if !parallelWorthIt(n * 4) {
		fn(0, n)
		return
	}
	parallelFor((n+chunk-1)/chunk, func(c int) {
		fn(c*chunk, min(n, (c+1)*chunk))
	})
}
