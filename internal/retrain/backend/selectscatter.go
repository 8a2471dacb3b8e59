package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapeinference"
)

// selectScatterNode is the data of a SelectAndScatterMax/Min node: the pooling it reverses.
type selectScatterNode struct {
	isMin    bool
	window   []int
	strides  []int
	paddings [][2]int
}

func (d *selectScatterNode) EqualNodeData(other extension.NodeDataComparable) bool {
	o := other.(*selectScatterNode)
	return d.isMin == o.isMin && slices.Equal(d.window, o.window) && slices.Equal(d.strides, o.strides) &&
		slices.Equal(d.paddings, o.paddings)
}

func selectAndScatterMax(f *extension.Function, operand, source compute.Value, window, strides []int, paddings [][2]int) (compute.Value, error) {
	return selectAndScatter(f, false, operand, source, window, strides, paddings)
}

func selectAndScatterMin(f *extension.Function, operand, source compute.Value, window, strides []int, paddings [][2]int) (compute.Value, error) {
	return selectAndScatter(f, true, operand, source, window, strides, paddings)
}

// selectAndScatter builds the gradient of a max (min) pooling: for every window of operand it
// picks the first largest (smallest) element, in row-major window order as XLA does, and adds
// the window's source value to it. Padding is never selected.
func selectAndScatter(f *extension.Function, isMin bool, operandV, sourceV compute.Value, window, strides []int, paddings [][2]int) (compute.Value, error) {
	opType := compute.OpTypeSelectAndScatterMax
	if isMin {
		opType = compute.OpTypeSelectAndScatterMin
	}
	nodes, err := f.VerifyAndCastValues(opType.String(), operandV, sourceV)
	if err != nil {
		return nil, err
	}
	operand, source := nodes[0], nodes[1]
	rank := operand.Shape.Rank()
	if dt := operand.Shape.DType; dt != dtypes.Float32 && dt != dtypes.Float64 {
		return nil, fmt.Errorf("%s: dtype %s not supported by the go backend (float32 and float64 are)", opType, dt)
	}
	if source.Shape.DType != operand.Shape.DType {
		return nil, fmt.Errorf("%s: source dtype %s differs from operand dtype %s", opType, source.Shape.DType, operand.Shape.DType)
	}
	if len(window) != rank || len(strides) != rank || (len(paddings) != 0 && len(paddings) != rank) {
		return nil, fmt.Errorf("%s: window %v, strides %v and paddings %v must each have one entry per axis of the operand %s",
			opType, window, strides, paddings, operand.Shape)
	}
	pooled, err := shapeinference.ReduceWindow(operand.Shape, window, strides, nil, nil, paddings)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opType, err)
	}
	if !slices.Equal(pooled.Dimensions, source.Shape.Dimensions) {
		return nil, fmt.Errorf("%s: source %s must have the pooled shape %s", opType, source.Shape, pooled)
	}
	pads := make([][2]int, rank)
	copy(pads, paddings)
	data := &selectScatterNode{isMin: isMin, window: slices.Clone(window), strides: slices.Clone(strides), paddings: pads}
	node, _ := f.GetOrCreateNode(opType, operand.Shape, []*extension.Node{operand, source}, data)
	return node, nil
}

func execSelectAndScatter(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, _ []bool) (*extension.Buffer, error) {
	operand, source := inputs[0], inputs[1]
	out, err := be.GetBuffer(operand.RawShape)
	if err != nil {
		return nil, err
	}
	d := node.Data.(*selectScatterNode)
	g := scatterGeometry{
		dims:    operand.RawShape.Dimensions,
		srcDims: source.RawShape.Dimensions,
		window:  d.window, strides: d.strides, paddings: d.paddings,
	}
	switch o := out.Flat.(type) {
	case []float32:
		selectScatter(g, d.isMin, operand.Flat.([]float32), source.Flat.([]float32), o)
	case []float64:
		selectScatter(g, d.isMin, operand.Flat.([]float64), source.Flat.([]float64), o)
	default:
		be.PutBuffer(out)
		return nil, fmt.Errorf("%s: dtype %s not supported", node.OpType, operand.RawShape.DType)
	}
	return out, nil
}

// scatterGeometry is the shape of one select-and-scatter.
type scatterGeometry struct {
	dims, srcDims, window, strides []int
	paddings                       [][2]int
}

func selectScatter[T float32 | float64](g scatterGeometry, isMin bool, operand, source, out []T) {
	clear(out)
	rank := len(g.dims)
	// Leading axes the windows do not cross (window 1, stride 1, no padding) split the work into
	// independent slices, which is what lets it run in parallel without changing a sum.
	lead := 0
	for lead < rank && g.window[lead] == 1 && g.strides[lead] == 1 && g.paddings[lead] == [2]int{} {
		lead++
	}
	slicesN := 1
	for _, dim := range g.dims[:lead] {
		slicesN *= dim
	}
	sliceSize, srcSliceSize := 1, 1
	for a := lead; a < rank; a++ {
		sliceSize *= g.dims[a]
		srcSliceSize *= g.srcDims[a]
	}
	if slicesN == 0 || sliceSize == 0 || srcSliceSize == 0 {
		return
	}
	sub := scatterGeometry{dims: g.dims[lead:], srcDims: g.srcDims[lead:], window: g.window[lead:],
		strides: g.strides[lead:], paddings: g.paddings[lead:]}
	run := func(s int) {
		op := operand[s*sliceSize : (s+1)*sliceSize]
		src := source[s*srcSliceSize : (s+1)*srcSliceSize]
		o := out[s*sliceSize : (s+1)*sliceSize]
		if len(sub.dims) == 2 {
			selectScatter2D(sub, isMin, op, src, o)
		} else {
			selectScatterND(sub, isMin, op, src, o)
		}
	}
	forSlices(slicesN, srcSliceSize*product(g.window), run)
}

// better reports whether candidate replaces the current selection: XLA's select keeps the
// current element while current >= candidate (<= for min), so ties keep the first.
func better[T float32 | float64](isMin bool, current, candidate T) bool {
	if isMin {
		return !(current <= candidate)
	}
	return !(current >= candidate)
}

func selectScatter2D[T float32 | float64](g scatterGeometry, isMin bool, operand, source, out []T) {
	h, w := g.dims[0], g.dims[1]
	oh, ow := g.srcDims[0], g.srcDims[1]
	wh, ww := g.window[0], g.window[1]
	sh, sw := g.strides[0], g.strides[1]
	ph, pw := g.paddings[0][0], g.paddings[1][0]
	if wh == 2 && ww == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && g.paddings[0][1] == 0 && g.paddings[1][1] == 0 {
		// The CNN pooling: 2×2 windows, stride 2, each input in at most one window.
		for y := range oh {
			r0, r1 := 2*y*w, (2*y+1)*w
			for x := range ow {
				i0, i1, i2, i3 := r0+2*x, r0+2*x+1, r1+2*x, r1+2*x+1
				best, bv := i0, operand[i0]
				if better(isMin, bv, operand[i1]) {
					best, bv = i1, operand[i1]
				}
				if better(isMin, bv, operand[i2]) {
					best, bv = i2, operand[i2]
				}
				if better(isMin, bv, operand[i3]) {
					best = i3
				}
				out[best] += source[y*ow+x]
			}
		}
		return
	}
	for y := range oh {
		y0 := y*sh - ph
		ya, yb := max(y0, 0), min(y0+wh, h)
		for x := range ow {
			x0 := x*sw - pw
			xa, xb := max(x0, 0), min(x0+ww, w)
			best := -1
			var bestV T
			for yy := ya; yy < yb; yy++ {
				row := operand[yy*w : yy*w+w]
				for xx := xa; xx < xb; xx++ {
					if v := row[xx]; best < 0 || better(isMin, bestV, v) {
						best, bestV = yy*w+xx, v
					}
				}
			}
			if best >= 0 {
				out[best] += source[y*ow+x]
			}
		}
	}
}

func selectScatterND[T float32 | float64](g scatterGeometry, isMin bool, operand, source, out []T) {
	rank := len(g.dims)
	strides := make([]int, rank) // memory strides of the operand
	size := 1
	for a := rank - 1; a >= 0; a-- {
		strides[a] = size
		size *= g.dims[a]
	}
	pos := make([]int, rank) // position in source
	win := make([]int, rank) // position in the window
	for s := range source {
		best := -1
		var bestV T
		clear(win)
		for {
			idx, inside := 0, true
			for a := range rank {
				c := pos[a]*g.strides[a] - g.paddings[a][0] + win[a]
				if c < 0 || c >= g.dims[a] {
					inside = false
					break
				}
				idx += c * strides[a]
			}
			if inside {
				if v := operand[idx]; best < 0 || better(isMin, bestV, v) {
					best, bestV = idx, v
				}
			}
			if !increment(win, g.window) {
				break
			}
		}
		if best >= 0 {
			out[best] += source[s]
		}
		increment(pos, g.srcDims)
	}
}

// increment advances a row-major multi-index within dims, reporting false after the last one.
func increment(idx, dims []int) bool {
	for a := len(idx) - 1; a >= 0; a-- {
		idx[a]++
		if idx[a] < dims[a] {
			return true
		}
		idx[a] = 0
	}
	return false
}
