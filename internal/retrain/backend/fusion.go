package backend

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapes"
)

// Elementwise fusion. A training graph applies long chains of elementwise ops to whole
// activations (BatchNormalization is Sub, Div, Mul, Add; ReLU's gradient is Sub, Sign, Add,
// Sign, Mul), each one a pass over memory. fuseElementwise, a graph transformation run at
// compilation, replaces every tree of float32 elementwise ops whose inner results have no other
// use by its root, given the tree's leaves as inputs and the tree as a small program
// (fusedNode). The program runs over blocks of fusedBlock elements that stay in L1, so the
// tree costs one pass. The root keeps its op type, so its executor (this package's, see
// binaryExecutor and unaryExecutor) is the one that finds the program in the node's data.

const fusedBlock = 256

// fusedNode is the data of a fused root: instruction i computes register len(leaves)+i from
// registers a (and b for binary ops); registers below len(leaves) are the node's inputs.
type fusedNode struct {
	leaves int
	code   []fusedInstr
	// slot[i] is the block buffer instruction i writes (the last writes the output); slots is
	// how many there are. An operand's buffer is free once read, so a result may take it.
	slot  []int
	slots int
}

type fusedInstr struct {
	op     compute.OpType
	a, b   int
	binary bool
}

func (d *fusedNode) EqualNodeData(other extension.NodeDataComparable) bool {
	o := other.(*fusedNode)
	if d.leaves != o.leaves || len(d.code) != len(o.code) {
		return false
	}
	for i := range d.code {
		if d.code[i] != o.code[i] {
			return false
		}
	}
	return true
}

func isFusableBinary(op compute.OpType) bool {
	_, ok := binaryKernelOf(op)
	return ok
}

func isFusableUnary(op compute.OpType) bool {
	_, ok := unaryKernelOf(op)
	return ok
}

// fuseElementwise is the graph transformation.
type fuseElementwise struct{}

func (fuseElementwise) Name() string { return "mlops elementwise fusion" }

func (fuseElementwise) Apply(b *extension.Builder) (bool, error) {
	for _, f := range b.Functions {
		fuseFunction(f)
	}
	return false, nil
}

func fuseFunction(f *extension.Function) {
	n := len(f.Nodes)
	// Uses by live nodes only: nodes the outputs do not depend on are never run.
	live := make([]bool, n)
	var mark func(*extension.Node)
	mark = func(node *extension.Node) {
		if node.Function != f || live[node.Index] {
			return
		}
		live[node.Index] = true
		for _, in := range node.Inputs {
			mark(in)
		}
		for _, c := range node.CapturedInputs {
			for _, in := range c {
				mark(in)
			}
		}
	}
	for _, out := range f.Outputs {
		mark(out)
	}
	uses := make([]int, n)
	for i, node := range f.Nodes {
		if !live[i] {
			continue
		}
		for _, in := range node.Inputs {
			if in.Function == f {
				uses[in.Index]++
			}
		}
		for _, c := range node.CapturedInputs {
			for _, in := range c {
				if in.Function == f {
					uses[in.Index] = 1 << 30 // never fuse a value a closure captures
				}
			}
		}
	}
	for _, out := range f.Outputs {
		if out.Function == f {
			uses[out.Index] = 1 << 30
		}
	}
	absorbed := make([]bool, n)
	// From the last node back, so each root takes the largest tree it can.
	for i := n - 1; i >= 0; i-- {
		root := f.Nodes[i]
		if !live[i] || absorbed[i] || !fusable(root, root.Shape) {
			continue
		}
		var leaves []*extension.Node
		var code []fusedInstr
		var inner []int
		var emit func(node *extension.Node, top bool) int // returns the register
		leafReg := func(node *extension.Node) int {
			node = scalarSource(node)
			// Leaves are encoded -1, -2, … until all are known.
			for r, l := range leaves {
				if l == node {
					return -r - 1
				}
			}
			leaves = append(leaves, node)
			return -len(leaves)
		}
		emit = func(node *extension.Node, top bool) int {
			if !top && (node.Function != f || uses[node.Index] != 1 || absorbed[node.Index] || !fusable(node, root.Shape)) {
				return leafReg(node)
			}
			if !top {
				inner = append(inner, node.Index)
			}
			in := fusedInstr{op: node.OpType, a: emit(node.Inputs[0], false), binary: len(node.Inputs) == 2}
			if in.binary {
				in.b = emit(node.Inputs[1], false)
			}
			code = append(code, in)
			return len(code) - 1
		}
		emit(root, true)
		if len(code) < 2 || len(leaves) > 8 || len(code) > 16 {
			continue
		}
		// Registers: leaves first (encoded -1, -2, …), then instruction results.
		reg := func(r int) int {
			if r < 0 {
				return -r - 1
			}
			return len(leaves) + r
		}
		for k := range code {
			code[k].a = reg(code[k].a)
			if code[k].binary {
				code[k].b = reg(code[k].b)
			}
		}
		for _, idx := range inner {
			absorbed[idx] = true
		}
		d := &fusedNode{leaves: len(leaves), code: code, slot: make([]int, len(code))}
		var free []int
		for k, in := range code {
			for _, r := range []int{in.a, in.b} {
				if t := r - len(leaves); t >= 0 && (r == in.a || in.binary) {
					free = append(free, d.slot[t])
				}
			}
			if len(free) > 0 {
				d.slot[k], free = free[len(free)-1], free[:len(free)-1]
			} else {
				d.slot[k] = d.slots
				d.slots++
			}
		}
		root.Inputs = leaves
		root.Data = d
	}
}

// fusable reports whether node is a float32 elementwise op of the fused shape whose operands
// are each that shape or broadcast to it (same rank, or a single value).
func fusable(node *extension.Node, shape shapes.Shape) bool {
	if node.Shape.DType != dtypes.Float32 || !node.Shape.Equal(shape) || node.Data != nil {
		return false
	}
	switch {
	case isFusableBinary(node.OpType) && len(node.Inputs) == 2:
	case isFusableUnary(node.OpType) && len(node.Inputs) == 1:
	default:
		return false
	}
	for _, in := range node.Inputs {
		s := in.Shape
		if s.DType != dtypes.Float32 || (s.Size() != 1 && s.Rank() != shape.Rank()) {
			return false
		}
	}
	return true
}

// scalarSource sees through a BroadcastInDim of a single value, so the fused program reads the
// value instead of a materialized tensor of copies.
func scalarSource(node *extension.Node) *extension.Node {
	if node.OpType == compute.OpTypeBroadcastInDim && len(node.Inputs) == 1 && node.Inputs[0].Shape.Size() == 1 &&
		node.Inputs[0].Shape.DType == node.Shape.DType {
		return node.Inputs[0]
	}
	return node
}

// execFused runs a fused node: one pass over the output, the program evaluated block by block.
func execFused(be *extension.Backend, node *extension.Node, d *fusedNode, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
	outS := node.Shape
	leaves := make([][]float32, len(inputs))
	leafShapes := make([]shapes.Shape, len(inputs))
	for i, in := range inputs {
		leaves[i], leafShapes[i] = in.Flat.([]float32), in.RawShape
	}
	// The output may take over a donated input of its shape: each block of it is read before
	// the same block of the output is written.
	var out *extension.Buffer
	for i, in := range inputs {
		if owned[i] && in.RawShape.Equal(outS) {
			out, inputs[i] = in, nil
			break
		}
	}
	if out == nil {
		var err error
		if out, err = be.GetBuffer(outS); err != nil {
			return nil, err
		}
	}
	runFused(d, out.Flat.([]float32), outS, leaves, leafShapes)
	return out, nil
}

// runFused evaluates d into out. Axes are merged into groups over which every leaf is either
// full or broadcast; within a run of the innermost group, each leaf is a slice or one value.
func runFused(d *fusedNode, out []float32, outS shapes.Shape, leaves [][]float32, leafShapes []shapes.Shape) {
	if len(out) == 0 {
		return
	}
	nl := len(leaves)
	var dims []int
	var full [][]bool // full[g][leaf]
	for ax, dim := range outS.Dimensions {
		if dim == 1 {
			continue
		}
		f := make([]bool, nl)
		for l, s := range leafShapes {
			f[l] = s.Size() != 1 && s.Dimensions[ax] != 1
		}
		if g := len(dims) - 1; g >= 0 && equalBools(full[g], f) {
			dims[g] *= dim
			continue
		}
		dims, full = append(dims, dim), append(full, f)
	}
	if len(dims) == 0 {
		dims, full = []int{1}, [][]bool{make([]bool, nl)}
		for l := range leaves {
			full[0][l] = true // every leaf is a single value: read it as a slice of one
		}
	}
	r := len(dims)
	// Strides of each leaf over the merged axes (0 where broadcast).
	strides := make([][]int, nl)
	for l := range leaves {
		strides[l] = make([]int, r)
		s := 1
		for g := r - 1; g >= 0; g-- {
			if full[g][l] {
				strides[l][g], s = s, s*dims[g]
			}
		}
	}
	inner := dims[r-1]
	rows := len(out) / inner
	blocksPerRow := (inner + fusedBlock - 1) / fusedBlock
	total := rows * blocksPerRow
	// Register values: a slice of n values, or a single value (vec nil).
	type value struct {
		vec    []float32
		scalar float32
	}
	block := func(t int, regs []value, buf []float32) {
		row, blk := t/blocksPerRow, t%blocksPerRow
		lo, hi := blk*fusedBlock, min(inner, (blk+1)*fusedBlock)
		n := hi - lo
		for l, data := range leaves {
			off, rem := 0, row
			for g := r - 2; g >= 0; g-- {
				off += (rem % dims[g]) * strides[l][g]
				rem /= dims[g]
			}
			if full[r-1][l] {
				regs[l] = value{vec: data[off+lo : off+hi]}
			} else {
				regs[l] = value{scalar: data[off]}
			}
		}
		for k, in := range d.code {
			last := k == len(d.code)-1
			target := buf[d.slot[k]*fusedBlock : d.slot[k]*fusedBlock+n]
			if last {
				target = out[row*inner+lo : row*inner+hi]
			}
			a := regs[in.a]
			var b value
			if in.binary {
				b = regs[in.b]
			}
			if a.vec == nil && (!in.binary || b.vec == nil) {
				// Both operands single values: so is the result.
				v := [1]float32{a.scalar}
				if in.binary {
					bk, _ := binaryKernelOf(in.op)
					bk.vv(v[:], v[:], []float32{b.scalar})
				} else {
					uk, _ := unaryKernelOf(in.op)
					uk(v[:], v[:])
				}
				regs[len(leaves)+k] = value{scalar: v[0]}
				if last {
					fill(target, v[0])
				}
				continue
			}
			switch {
			case !in.binary:
				uk, _ := unaryKernelOf(in.op)
				uk(target, a.vec)
			case a.vec != nil && b.vec != nil:
				bk, _ := binaryKernelOf(in.op)
				bk.vv(target, a.vec, b.vec)
			case a.vec != nil:
				bk, _ := binaryKernelOf(in.op)
				bk.vs(target, a.vec, b.scalar)
			default:
				bk, _ := binaryKernelOf(in.op)
				bk.sv(target, a.scalar, b.vec)
			}
			regs[len(leaves)+k] = value{vec: target}
		}
	}
	// Fixed chunks of blocks, each with its own registers and buffers.
	chunks := 1
	if parallelWorthIt(len(out) * len(d.code)) {
		chunks = min(64, total)
	}
	per := (total + chunks - 1) / chunks
	parallelFor((total+per-1)/per, func(c int) {
		regs := make([]value, nl+len(d.code))
		buf := make([]float32, max(1, d.slots)*fusedBlock)
		for t := c * per; t < min(total, (c+1)*per); t++ {
			block(t, regs, buf)
		}
	})
}

func equalBools(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}
