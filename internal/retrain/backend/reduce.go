package backend

import (
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend/extension"
)

// reduceExecutor runs float32 ReduceSum/ReduceMax/ReduceMin nodes (node data: the reduced axes,
// as upstream's builder stores them) and hands the rest to previous. Sums accumulate in float64,
// each output in one fixed order (reduced index ascending), so results are deterministic and at
// least as accurate as upstream's float32 running sum.
func reduceExecutor(previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		in, ok := inputs[0].Flat.([]float32)
		axes, okAxes := node.Data.([]int)
		if !ok || !okAxes || len(axes) == 0 {
			return previous(be, node, inputs, owned)
		}
		out, err := be.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		reduceFloat32(node.OpType, in, inputs[0].RawShape.Dimensions, axes, out.Flat.([]float32))
		return out, nil
	}
}

// reduceFloat32 reduces in (shaped dims) over axes into out.
func reduceFloat32(op compute.OpType, in []float32, dims, axes []int, out []float32) {
	// Merge the axes into alternating groups of kept and reduced axes.
	var groups []int
	var reduced []bool
	for ax, d := range dims {
		red := slices.Contains(axes, ax)
		if d == 1 {
			continue
		}
		if l := len(groups) - 1; l >= 0 && reduced[l] == red {
			groups[l] *= d
			continue
		}
		groups, reduced = append(groups, d), append(reduced, red)
	}
	init := 0.0
	switch op {
	case compute.OpTypeReduceMax:
		init = math.Inf(-1)
	case compute.OpTypeReduceMin:
		init = math.Inf(1)
	}
	if len(out) == 0 {
		return
	}
	if len(in) == 0 {
		for i := range out {
			out[i] = float32(init)
		}
		return
	}
	fold := func(acc float64, v []float32) float64 {
		switch op {
		case compute.OpTypeReduceMax:
			for _, x := range v {
				acc = max(acc, float64(x))
			}
		case compute.OpTypeReduceMin:
			for _, x := range v {
				acc = min(acc, float64(x))
			}
		default:
			// Four running sums break the chain of dependent float64 adds; they are combined in
			// a fixed order, so the result still depends on the shape only.
			var s0, s1, s2, s3 float64
			i := 0
			for ; i+4 <= len(v); i += 4 {
				s0 += float64(v[i])
				s1 += float64(v[i+1])
				s2 += float64(v[i+2])
				s3 += float64(v[i+3])
			}
			for ; i < len(v); i++ {
				s0 += float64(v[i])
			}
			acc += (s0 + s1) + (s2 + s3)
		}
		return acc
	}
	r := len(groups)
	if r == 0 || !reduced[r-1] {
		// The innermost group is kept (or nothing is reduced): accumulate whole rows of
		// outputs, the reduced groups outside them walked in order.
		inner := 1
		if r > 0 {
			inner = groups[r-1]
		}
		reduceInnerKept(op, in, groups, reduced, inner, init, out)
		return
	}
	// Innermost group reduced: each output folds runs of groups[r-1] contiguous values.
	run := groups[r-1]
	strides := make([]int, r)
	s := 1
	for g := r - 1; g >= 0; g-- {
		strides[g] = s
		s *= groups[g]
	}
	outer := len(in) / run // runs in the input
	perOut := outer / len(out)
	forSlices(len(out), perOut*run, func(o int) {
		// The kept coordinates of o, outermost first.
		base, rem := 0, o
		for g := r - 1; g >= 0; g-- {
			if !reduced[g] {
				base += (rem % groups[g]) * strides[g]
				rem /= groups[g]
			}
		}
		acc := init
		idx := make([]int, r)
		for {
			off := base
			for g := range r - 1 {
				if reduced[g] {
					off += idx[g] * strides[g]
				}
			}
			acc = fold(acc, in[off:off+run])
			// Next reduced coordinate (outer reduced groups, innermost fastest).
			if !nextReduced(idx, groups, reduced) {
				break
			}
		}
		out[o] = float32(acc)
	})
}

// reduceInnerKept reduces when the innermost group is kept: out rows of length inner collect,
// in reduced-index order, the matching input rows.
func reduceInnerKept(op compute.OpType, in []float32, groups []int, reduced []bool, inner int, init float64, out []float32) {
	r := len(groups)
	strides := make([]int, r)
	s := 1
	for g := r - 1; g >= 0; g-- {
		strides[g] = s
		s *= groups[g]
	}
	outRows := len(out) / inner
	// Split each output row's columns into fixed chunks so a single row still parallelizes.
	const colChunk = 512
	chunks := (inner + colChunk - 1) / colChunk
	forSlices(outRows*chunks, len(in)/max(1, outRows*chunks), func(t int) {
		o, c := t/chunks, t%chunks
		lo, hi := c*colChunk, min(inner, (c+1)*colChunk)
		base, rem := 0, o
		for g := r - 2; g >= 0; g-- {
			if !reduced[g] {
				base += (rem % groups[g]) * strides[g]
				rem /= groups[g]
			}
		}
		acc := make([]float64, hi-lo)
		for i := range acc {
			acc[i] = init
		}
		idx := make([]int, r)
		for {
			off := base
			for g := range r - 1 {
				if reduced[g] {
					off += idx[g] * strides[g]
				}
			}
			row := in[off+lo : off+hi]
			switch op {
			case compute.OpTypeReduceMax:
				for i, x := range row {
					acc[i] = max(acc[i], float64(x))
				}
			case compute.OpTypeReduceMin:
				for i, x := range row {
					acc[i] = min(acc[i], float64(x))
				}
			default:
				for i, x := range row {
					acc[i] += float64(x)
				}
			}
			if !nextReduced(idx, groups, reduced) {
				break
			}
		}
		dst := out[o*inner+lo : o*inner+hi]
		for i, v := range acc {
			dst[i] = float32(v)
		}
	})
}

// nextReduced advances idx over the reduced groups outside the innermost one (the innermost of
// them fastest), reporting false after the last combination.
func nextReduced(idx, groups []int, reduced []bool) bool {
	for g := len(groups) - 2; g >= 0; g-- {
		if !reduced[g] {
			continue
		}
		idx[g]++
		if idx[g] < groups[g] {
			return true
		}
		idx[g] = 0
	}
	return false
}
