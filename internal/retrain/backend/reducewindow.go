package backend

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapeinference"
)

// reduceWindowNode is the data of a float ReduceWindow node built by this package, with one
// entry per axis in every field.
type reduceWindowNode struct {
	reduction                                        compute.ReduceOpType
	window, strides, inputDilations, windowDilations []int
	paddings                                         [][2]int
}

func (d *reduceWindowNode) EqualNodeData(other extension.NodeDataComparable) bool {
	o := other.(*reduceWindowNode)
	return d.reduction == o.reduction && slices.Equal(d.window, o.window) && slices.Equal(d.strides, o.strides) &&
		slices.Equal(d.inputDilations, o.inputDilations) && slices.Equal(d.windowDilations, o.windowDilations) &&
		slices.Equal(d.paddings, o.paddings)
}

type reduceWindowFn = func(*extension.Function, compute.Value, compute.ReduceOpType, []int, []int, []int, []int, [][2]int) (compute.Value, error)

// reduceWindowBuilder returns the ReduceWindow builder: float32/float64 max, min and sum get
// this package's node, anything else goes to the builder it replaces.
func reduceWindowBuilder(previous reduceWindowFn) reduceWindowFn {
	return func(f *extension.Function, operandV compute.Value, reduction compute.ReduceOpType,
		window, strides, inputDilations, windowDilations []int, paddings [][2]int) (compute.Value, error) {
		nodes, err := f.VerifyAndCastValues(compute.OpTypeReduceWindow.String(), operandV)
		if err != nil {
			return nil, err
		}
		operand := nodes[0]
		dt := operand.Shape.DType
		supported := (dt == dtypes.Float32 || dt == dtypes.Float64) &&
			(reduction == compute.ReduceOpMax || reduction == compute.ReduceOpMin || reduction == compute.ReduceOpSum)
		if !supported {
			if previous == nil {
				return nil, fmt.Errorf("ReduceWindow: %s of %s not supported by the go backend", reduction, dt)
			}
			return previous(f, operandV, reduction, window, strides, inputDilations, windowDilations, paddings)
		}
		outShape, err := shapeinference.ReduceWindow(operand.Shape, window, strides, inputDilations, windowDilations, paddings)
		if err != nil {
			return nil, fmt.Errorf("ReduceWindow: %w", err)
		}
		rank := operand.Shape.Rank()
		d := &reduceWindowNode{
			reduction:       reduction,
			window:          perAxis(window, rank),
			inputDilations:  perAxis(inputDilations, rank),
			windowDilations: perAxis(windowDilations, rank),
			paddings:        make([][2]int, rank),
		}
		// Strides default to the window, as upstream's.
		d.strides = slices.Clone(d.window)
		if len(strides) > 0 {
			d.strides = perAxis(strides, rank)
		}
		copy(d.paddings, paddings)
		node, _ := f.GetOrCreateNode(compute.OpTypeReduceWindow, outShape, []*extension.Node{operand}, d)
		return node, nil
	}
}

func reduceWindowExecutor(previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		d, ok := node.Data.(*reduceWindowNode)
		if !ok {
			if previous == nil {
				return nil, fmt.Errorf("ReduceWindow: no executor for node data %T", node.Data)
			}
			return previous(be, node, inputs, owned)
		}
		out, err := be.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		g := windowGeometry{dims: inputs[0].RawShape.Dimensions, outDims: out.RawShape.Dimensions, d: d}
		switch o := out.Flat.(type) {
		case []float32:
			reduceWindow(g, inputs[0].Flat.([]float32), o)
		case []float64:
			reduceWindow(g, inputs[0].Flat.([]float64), o)
		default:
			be.PutBuffer(out)
			return nil, fmt.Errorf("ReduceWindow: dtype %s not supported", out.RawShape.DType)
		}
		return out, nil
	}
}

type windowGeometry struct {
	dims, outDims []int
	d             *reduceWindowNode
}

func reduceWindow[T float32 | float64](g windowGeometry, operand, out []T) {
	d := g.d
	init := T(0)
	switch d.reduction {
	case compute.ReduceOpMax:
		init = T(math.Inf(-1))
	case compute.ReduceOpMin:
		init = T(math.Inf(1))
	}
	for i := range out {
		out[i] = init
	}
	rank := len(g.dims)
	// Leading axes no window crosses split the work into independent slices.
	lead := 0
	for lead < rank && d.window[lead] == 1 && d.strides[lead] == 1 && d.paddings[lead] == [2]int{} &&
		d.inputDilations[lead] == 1 && d.windowDilations[lead] == 1 {
		lead++
	}
	slicesN, size, outSize := 1, 1, 1
	for a := range rank {
		if a < lead {
			slicesN *= g.dims[a]
		} else {
			size *= g.dims[a]
			outSize *= g.outDims[a]
		}
	}
	if slicesN == 0 || size == 0 || outSize == 0 {
		return
	}
	sub := &reduceWindowNode{reduction: d.reduction, window: d.window[lead:], strides: d.strides[lead:],
		inputDilations: d.inputDilations[lead:], windowDilations: d.windowDilations[lead:], paddings: d.paddings[lead:]}
	subG := windowGeometry{dims: g.dims[lead:], outDims: g.outDims[lead:], d: sub}
	plain2D := len(subG.dims) == 2
	for a := range subG.dims {
		if sub.inputDilations[a] != 1 || sub.windowDilations[a] != 1 {
			plain2D = false
		}
	}
	run := func(s int) {
		op, o := operand[s*size:(s+1)*size], out[s*outSize:(s+1)*outSize]
		if plain2D {
			reduceWindow2D(subG, op, o)
		} else {
			reduceWindowND(subG, op, o)
		}
	}
	forSlices(slicesN, outSize*product(d.window), run)
}

func reduceWindow2D[T float32 | float64](g windowGeometry, operand, out []T) {
	d := g.d
	h, w := g.dims[0], g.dims[1]
	oh, ow := g.outDims[0], g.outDims[1]
	if d.window[0] == 2 && d.window[1] == 2 && d.strides[0] == 2 && d.strides[1] == 2 &&
		d.paddings[0] == [2]int{} && d.paddings[1] == [2]int{} && d.reduction == compute.ReduceOpMax {
		// The CNN pooling: 2×2 windows, stride 2.
		for y := range oh {
			r0, r1 := operand[2*y*w:2*y*w+w], operand[(2*y+1)*w:(2*y+1)*w+w]
			orow := out[y*ow : y*ow+ow]
			for x := range orow {
				orow[x] = max(r0[2*x], r0[2*x+1], r1[2*x], r1[2*x+1])
			}
		}
		return
	}
	for y := range oh {
		y0 := y*d.strides[0] - d.paddings[0][0]
		ya, yb := max(y0, 0), min(y0+d.window[0], h)
		orow := out[y*ow : y*ow+ow]
		for x := range orow {
			x0 := x*d.strides[1] - d.paddings[1][0]
			xa, xb := max(x0, 0), min(x0+d.window[1], w)
			acc := orow[x]
			for yy := ya; yy < yb; yy++ {
				acc = fold(d.reduction, acc, operand[yy*w+xa:yy*w+max(xa, xb)])
			}
			orow[x] = acc
		}
	}
}

// fold combines the values of v into acc, the reduction chosen once per run.
func fold[T float32 | float64](reduction compute.ReduceOpType, acc T, v []T) T {
	switch reduction {
	case compute.ReduceOpMax:
		for _, x := range v {
			acc = max(acc, x)
		}
	case compute.ReduceOpMin:
		for _, x := range v {
			acc = min(acc, x)
		}
	default:
		for _, x := range v {
			acc += x
		}
	}
	return acc
}

func reduceWindowND[T float32 | float64](g windowGeometry, operand, out []T) {
	d := g.d
	rank := len(g.dims)
	strides := make([]int, rank)
	size := 1
	for a := rank - 1; a >= 0; a-- {
		strides[a] = size
		size *= g.dims[a]
	}
	pos := make([]int, rank)
	win := make([]int, rank)
	for o := range out {
		acc := out[o]
		clear(win)
		for {
			idx, inside := 0, true
			for a := range rank {
				c := pos[a]*d.strides[a] - d.paddings[a][0] + win[a]*d.windowDilations[a]
				if c < 0 || c%d.inputDilations[a] != 0 {
					inside = false
					break
				}
				c /= d.inputDilations[a]
				if c >= g.dims[a] {
					inside = false
					break
				}
				idx += c * strides[a]
			}
			if inside {
				acc = combine(d.reduction, acc, operand[idx])
			}
			if !increment(win, d.window) {
				break
			}
		}
		out[o] = acc
		increment(pos, g.outDims)
	}
}

// combine folds v into acc: max and min propagate NaN, as upstream's (Go's max and min).
func combine[T float32 | float64](reduction compute.ReduceOpType, acc, v T) T {
	switch reduction {
	case compute.ReduceOpMax:
		return max(acc, v)
	case compute.ReduceOpMin:
		return min(acc, v)
	default:
		return acc + v
	}
}
