package backend

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// convNode is the data of a float32 ConvGeneral node built by this package; parameters are
// normalized (one entry per spatial axis, defaults filled in).
type convNode struct {
	axes                                     compute.ConvolveAxesConfig
	strides, inputDilations, kernelDilations []int
	paddings                                 [][2]int
	channelGroups, batchGroups               int

	// plan caches the execution plan of the last shapes seen (static in practice: gomlx builds
	// a graph per input shape), so a training step does not rebuild its offset tables.
	plan atomic.Pointer[convPlan]
}

// planFor returns the plan for these shapes, reusing the cached one when they match.
func (d *convNode) planFor(in, kern, out shapes.Shape) *convPlan {
	if p := d.plan.Load(); p != nil && p.in.Equal(in) && p.kern.Equal(kern) && p.out.Equal(out) {
		return p
	}
	p := newConvPlan(d, in, kern, out)
	d.plan.Store(p)
	return p
}

func (d *convNode) EqualNodeData(other extension.NodeDataComparable) bool {
	o := other.(*convNode)
	a, b := d.axes, o.axes
	return a.InputBatch == b.InputBatch && a.InputChannels == b.InputChannels &&
		a.KernelInputChannels == b.KernelInputChannels && a.KernelOutputChannels == b.KernelOutputChannels &&
		a.OutputBatch == b.OutputBatch && a.OutputChannels == b.OutputChannels &&
		slices.Equal(a.InputSpatial, b.InputSpatial) && slices.Equal(a.KernelSpatial, b.KernelSpatial) &&
		slices.Equal(a.OutputSpatial, b.OutputSpatial) &&
		slices.Equal(d.strides, o.strides) && slices.Equal(d.inputDilations, o.inputDilations) &&
		slices.Equal(d.kernelDilations, o.kernelDilations) && slices.Equal(d.paddings, o.paddings) &&
		d.channelGroups == o.channelGroups && d.batchGroups == o.batchGroups
}

// convBuilder returns the ConvGeneral builder: float32 convolutions get this package's node, the
// rest go to the builder it replaces.
func convBuilder(previous func(*extension.Function, compute.Value, compute.Value, compute.ConvolveAxesConfig, []int, [][2]int, []int, []int, int, int) (compute.Value, error)) func(*extension.Function, compute.Value, compute.Value, compute.ConvolveAxesConfig, []int, [][2]int, []int, []int, int, int) (compute.Value, error) {
	return func(f *extension.Function, inputV, kernelV compute.Value, axes compute.ConvolveAxesConfig,
		strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
		channelGroups, batchGroups int) (compute.Value, error) {
		nodes, err := f.VerifyAndCastValues(compute.OpTypeConvGeneral.String(), inputV, kernelV)
		if err != nil {
			return nil, err
		}
		input, kernel := nodes[0], nodes[1]
		if input.Shape.DType != dtypes.Float32 || kernel.Shape.DType != dtypes.Float32 {
			if previous == nil {
				return nil, fmt.Errorf("ConvGeneral: dtype %s not supported by the go backend", input.Shape.DType)
			}
			return previous(f, inputV, kernelV, axes, strides, paddings, inputDilations, kernelDilations, channelGroups, batchGroups)
		}
		channelGroups, batchGroups = max(channelGroups, 1), max(batchGroups, 1)
		outShape, err := shapeinference.ConvGeneral(input.Shape, kernel.Shape, axes, strides, paddings,
			inputDilations, kernelDilations, channelGroups, batchGroups)
		if err != nil {
			return nil, fmt.Errorf("ConvGeneral: %w", err)
		}
		spatial := input.Shape.Rank() - 2
		d := &convNode{
			axes:            axes.Clone(),
			strides:         perAxis(strides, spatial),
			inputDilations:  perAxis(inputDilations, spatial),
			kernelDilations: perAxis(kernelDilations, spatial),
			paddings:        make([][2]int, spatial),
			channelGroups:   channelGroups,
			batchGroups:     batchGroups,
		}
		copy(d.paddings, paddings)
		node, _ := f.GetOrCreateNode(compute.OpTypeConvGeneral, outShape, []*extension.Node{input, kernel}, d)
		return node, nil
	}
}

// perAxis returns v, or all ones when v is empty; values below 1 become 1.
func perAxis(v []int, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
		if i < len(v) && v[i] > 1 {
			out[i] = v[i]
		}
	}
	return out
}

// convExecutor runs this package's ConvGeneral nodes and hands any other to previous.
func convExecutor(previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		d, ok := node.Data.(*convNode)
		if !ok {
			if previous == nil {
				return nil, fmt.Errorf("ConvGeneral: no executor for node data %T", node.Data)
			}
			return previous(be, node, inputs, owned)
		}
		out, err := be.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		plan := d.planFor(inputs[0].RawShape, inputs[1].RawShape, out.RawShape)
		plan.run(scratch{be: be}, inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), out.Flat.([]float32))
		return out, nil
	}
}

// convPlan is a convolution laid out as one GEMM per channel block:
//
//	out[oc, (ob, os)] = Σ_(c, k) W[oc, (c, k)] · col[(c, k), (ob, os)]
//
// with W the kernel (output channels by input channels and kernel positions) and col the
// input patches (im2col), which is never materialized: it is packed directly into the GEMM's
// column strips. A channel block is a run of output channels sharing one feature group and one
// batch group.
type convPlan struct {
	in, kern, out shapes.Shape
	spatial       int
	// Input: batch and channel strides, and per spatial axis the dimension, dilated dimension,
	// stride in memory, conv stride, input dilation and low padding.
	inBatchStride, inChanStride  int
	inBatch, inChans             int
	padHi                        []int
	inDims, inDilDims, inStrides []int
	convStrides, inDil, padLo    []int
	// Kernel: per kernel position (c, k), its offset in the kernel tensor and its spatial
	// offsets k·dilation.
	kernelCols  int
	kernOff     []int // offset of (c, k) for output channel 0
	kernOutStr  int   // kernel stride of the output-channel axis
	kernSpatial []int // kernelCols × spatial: k_s·kernelDilation_s
	chanOfCol   []int // input channel c of each kernel column
	// Output: dims of the output spatial axes, batch, channels and memory strides.
	outBatch, outChans   int
	outSpatial           []int
	outSpatialSize       int
	outBatchStride       int
	outChanStride        int
	outSpatialStrides    []int
	outSpatialContiguous bool
	// Groups: output channels come in blocks of blockSize sharing their groups.
	channelGroups, batchGroups int
	chansPerGroup              int // input channels per feature group (kernel input channels)
	blockSize                  int
	// fastRows: the last spatial axis has conv stride 1, no input dilation and unit memory
	// stride, so a row of output positions reads a contiguous run of input.
	fastRows bool
	// columnRuns: consecutive kernel columns along the last kernel axis read consecutive input
	// (unit kernel dilation and memory stride there, no input dilation), and kernel rows are
	// longer than output rows, so strips are packed column by column (kernel gradients).
	columnRuns bool
}

func newConvPlan(d *convNode, in, kern, out shapes.Shape) *convPlan {
	ax := d.axes
	sp := len(ax.InputSpatial)
	inStr, kStr, oStr := in.Strides(), kern.Strides(), out.Strides()
	p := &convPlan{
		in: in.Clone(), kern: kern.Clone(), out: out.Clone(),
		spatial:       sp,
		inBatchStride: inStr[ax.InputBatch], inChanStride: inStr[ax.InputChannels],
		inBatch: in.Dimensions[ax.InputBatch], inChans: in.Dimensions[ax.InputChannels],
		convStrides: d.strides, inDil: d.inputDilations,
		outBatch: out.Dimensions[ax.OutputBatch], outChans: out.Dimensions[ax.OutputChannels],
		outBatchStride: oStr[ax.OutputBatch], outChanStride: oStr[ax.OutputChannels],
		channelGroups: d.channelGroups, batchGroups: d.batchGroups,
		chansPerGroup: kern.Dimensions[ax.KernelInputChannels],
		kernOutStr:    kStr[ax.KernelOutputChannels],
	}
	for s := range sp {
		dim := in.Dimensions[ax.InputSpatial[s]]
		p.inDims = append(p.inDims, dim)
		p.inDilDims = append(p.inDilDims, max(0, (dim-1)*d.inputDilations[s]+1))
		p.inStrides = append(p.inStrides, inStr[ax.InputSpatial[s]])
		p.padLo = append(p.padLo, d.paddings[s][0])
		p.padHi = append(p.padHi, d.paddings[s][1])
		p.outSpatial = append(p.outSpatial, out.Dimensions[ax.OutputSpatial[s]])
		p.outSpatialStrides = append(p.outSpatialStrides, oStr[ax.OutputSpatial[s]])
	}
	p.outSpatialSize = 1
	for _, v := range p.outSpatial {
		p.outSpatialSize *= v
	}
	// Spatial axes contiguous in row-major order: the flat spatial index is the memory offset.
	p.outSpatialContiguous = true
	want := 1
	for s := sp - 1; s >= 0; s-- {
		if p.outSpatial[s] > 1 && p.outSpatialStrides[s] != want {
			p.outSpatialContiguous = false
		}
		want *= p.outSpatial[s]
	}
	p.fastRows = sp > 0 && d.strides[sp-1] == 1 && p.inStrides[sp-1] == 1
	p.columnRuns = sp > 0 && d.kernelDilations[sp-1] == 1 && p.inStrides[sp-1] == 1 &&
		kern.Dimensions[ax.KernelSpatial[sp-1]] > min(nr, out.Dimensions[ax.OutputSpatial[sp-1]])
	for _, v := range d.inputDilations {
		if v != 1 {
			p.fastRows, p.columnRuns = false, false
		}
	}

	// Kernel columns (c, k) in row-major order of (c, k_0, …, k_{sp-1}).
	kdims := make([]int, sp)
	kpos := 1
	for s := range sp {
		kdims[s] = kern.Dimensions[ax.KernelSpatial[s]]
		kpos *= kdims[s]
	}
	p.kernelCols = p.chansPerGroup * kpos
	p.kernOff = make([]int, p.kernelCols)
	p.kernSpatial = make([]int, p.kernelCols*sp)
	p.chanOfCol = make([]int, p.kernelCols)
	k := make([]int, sp)
	for c := range p.chansPerGroup {
		clear(k)
		for i := range kpos {
			col := c*kpos + i
			off := c * kStr[ax.KernelInputChannels]
			for s := range sp {
				off += k[s] * kStr[ax.KernelSpatial[s]]
				p.kernSpatial[col*sp+s] = k[s] * d.kernelDilations[s]
			}
			p.kernOff[col] = off
			p.chanOfCol[col] = c
			increment(k, kdims)
		}
	}

	perFeature := p.outChans / p.channelGroups
	perBatch := p.outChans / p.batchGroups
	p.blockSize = gcd(perFeature, perBatch)
	return p
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (p *convPlan) run(sc scratch, input, kernel, out []float32) {
	if p.outChans == 0 || p.outBatch == 0 || p.outSpatialSize == 0 {
		return
	}
	perFeature := p.outChans / p.channelGroups
	perBatch := p.outChans / p.batchGroups
	cols := p.outBatch * p.outSpatialSize
	if p.direct() {
		p.runDirect(sc, input, kernel, out)
		return
	}
	if p.transposed() {
		p.runTransposed(sc, input, kernel, out)
		return
	}
	for oc0 := 0; oc0 < p.outChans; oc0 += p.blockSize {
		chanOff := (oc0 / perFeature) * p.chansPerGroup * p.inChanStride
		batchOff := (oc0 / perBatch) * p.outBatch * p.inBatchStride
		op := gemmOp{
			m: p.blockSize, n: cols, k: p.kernelCols,
			packA: func(dst []float32, i0, mc, p0, kc int) {
				p.packKernel(dst, kernel, oc0+i0, mc, p0, kc)
			},
			packB: func(dst []float32, p0, kc, j0, nb int) {
				p.packPatches(dst, input, chanOff+batchOff, p0, kc, j0, nb)
			},
		}
		if p.outSpatialContiguous {
			op.out = outView{data: out[oc0*p.outChanStride:], rs: p.outChanStride, cs: 1,
				inner: p.outSpatialSize, outerStride: p.outBatchStride}
			op.run(sc)
			continue
		}
		// Any other output layout: compute the block row-major, then scatter it.
		tmp, free := sc.floats(p.blockSize * cols)
		op.out = outView{data: tmp, rs: cols, cs: 1}
		op.run(sc)
		pos := make([]int, p.spatial)
		for j := range cols {
			ob, os := j/p.outSpatialSize, j%p.outSpatialSize
			off := ob * p.outBatchStride
			rem := os
			for s := p.spatial - 1; s >= 0; s-- {
				pos[s] = rem % p.outSpatial[s]
				rem /= p.outSpatial[s]
				off += pos[s] * p.outSpatialStrides[s]
			}
			for i := range p.blockSize {
				out[off+(oc0+i)*p.outChanStride] = tmp[i*cols+j]
			}
		}
		free()
	}
}

// packKernel packs output channels [oc0, oc0+mc) × kernel columns [p0, p0+kc) into mr strips.
func (p *convPlan) packKernel(dst, kernel []float32, oc0, mc, p0, kc int) {
	gatherStrips(dst, kernel, func(i int) int { return (oc0 + i) * p.kernOutStr }, mc, p.kernOff[p0:p0+kc])
}

// gatherStrips packs mc rows into mr-row strips: row i, column q is src[base(i)+offs[q]].
func gatherStrips(dst, src []float32, base func(i int) int, mc int, offs []int) {
	kc := len(offs)
	for s := 0; s*mr < mc; s++ {
		strip := dst[s*kc*mr : (s+1)*kc*mr]
		rows := min(mr, mc-s*mr)
		if rows < mr {
			clear(strip)
		}
		for r := range rows {
			row := src[base(s*mr+r):]
			for q, off := range offs {
				strip[q*mr+r] = row[off]
			}
		}
	}
}

// leadingOffset adds to off the input offset of a window's leading spatial coordinates (all but
// the last), origin plus kernel offsets ks; inside is false when one falls in the padding.
func (p *convPlan) leadingOffset(off int, origin, ks []int) (int, bool) {
	for s := range p.spatial - 1 {
		pos := origin[s] + ks[s]
		if pos < 0 || pos >= p.inDims[s] {
			return off, false
		}
		off += pos * p.inStrides[s]
	}
	return off, true
}

// packPatches packs im2col rows [p0, p0+kc) and columns [j0, j0+nb) into one nr strip. base is
// the input offset of the block's feature and batch group.
func (p *convPlan) packPatches(dst, input []float32, base, p0, kc, j0, nb int) {
	strip := dst[:kc*nr]
	sp := p.spatial
	// Decompose each column into its batch offset and per-axis window origin.
	var colBase [nr]int
	var origin [nr][4]int
	var originBig [][]int
	if sp > 4 {
		originBig = make([][]int, nb)
	}
	for q := range nb {
		j := j0 + q
		ob, os := j/p.outSpatialSize, j%p.outSpatialSize
		colBase[q] = base + ob*p.inBatchStride
		o := origin[q][:]
		if sp > 4 {
			originBig[q] = make([]int, sp)
			o = originBig[q]
		}
		for s := sp - 1; s >= 0; s-- {
			o[s] = (os%p.outSpatial[s])*p.convStrides[s] - p.padLo[s]
			os /= p.outSpatial[s]
		}
	}
	originOf := func(q int) []int {
		if sp > 4 {
			return originBig[q]
		}
		return origin[q][:sp]
	}
	if nb < nr {
		clear(strip)
	}
	if p.columnRuns {
		p.packColumns(strip, input, p0, kc, nb, colBase[:nb], originOf)
		return
	}
	if p.fastRows {
		// Runs of columns in one output row read consecutive input elements.
		last := sp - 1
		for q0 := 0; q0 < nb; {
			q1 := q0 + 1
			for q1 < nb && colBase[q1] == colBase[q0] && slices.Equal(originOf(q1)[:last], originOf(q0)[:last]) {
				q1++
			}
			o := originOf(q0)
			for r := range kc {
				col := p0 + r
				row := strip[r*nr+q0 : r*nr+q1]
				ks := p.kernSpatial[col*sp : col*sp+sp]
				off, inside := p.leadingOffset(colBase[q0]+p.chanOfCol[col]*p.inChanStride, o, ks)
				if !inside {
					clear(row)
					continue
				}
				x0 := o[last] + ks[last]
				dim := p.inDims[last]
				lo, hi := max(0, -x0), min(len(row), dim-x0)
				if lo >= hi {
					clear(row)
					continue
				}
				clear(row[:lo])
				copy(row[lo:hi], input[off+x0+lo:off+x0+hi])
				clear(row[hi:])
			}
			q0 = q1
		}
		return
	}
	for r := range kc {
		col := p0 + r
		chanOff := p.chanOfCol[col] * p.inChanStride
		ks := p.kernSpatial[col*sp : col*sp+sp]
		for q := range nb {
			o := originOf(q)
			off := colBase[q] + chanOff
			v := float32(0)
			inside := true
			for s := range sp {
				pos := o[s] + ks[s]
				if pos < 0 || pos >= p.inDilDims[s] || pos%p.inDil[s] != 0 {
					inside = false
					break
				}
				off += pos / p.inDil[s] * p.inStrides[s]
			}
			if inside {
				v = input[off]
			}
			strip[r*nr+q] = v
		}
	}
}

// packColumns packs a strip column by column: along k, runs of kernel columns that differ only
// in the last kernel coordinate read a contiguous stretch of input.
func (p *convPlan) packColumns(strip, input []float32, p0, kc, nb int, colBase []int, originOf func(int) []int) {
	sp := p.spatial
	last := sp - 1
	dim := p.inDims[last]
	for q := range nb {
		o := originOf(q)
		for r := 0; r < kc; {
			col := p0 + r
			ks := p.kernSpatial[col*sp : col*sp+sp]
			// The run: following columns with the same channel and leading kernel coordinates.
			end := r + 1
			for end < kc && p.kernSpatial[(p0+end)*sp+last] == ks[last]+(end-r) && p.chanOfCol[p0+end] == p.chanOfCol[col] {
				end++
			}
			off, inside := p.leadingOffset(colBase[q]+p.chanOfCol[col]*p.inChanStride, o, ks)
			x0 := o[last] + ks[last]
			for i := r; i < end; i++ {
				v := float32(0)
				if x := x0 + i - r; inside && x >= 0 && x < dim {
					v = input[off+x]
				}
				strip[i*nr+q] = v
			}
			r = end
		}
	}
}
