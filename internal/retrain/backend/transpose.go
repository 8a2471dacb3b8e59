package backend

import (
	"github.com/gomlx/compute/gobackend/extension"
)

// transposeExecutor runs float32 Transpose nodes (node data: the permutation, as upstream's
// builder stores it) and hands other dtypes to previous. Axes that stay adjacent are merged
// first; a transpose of two merged axes (a matrix transpose, possibly batched) goes by
// cache-sized tiles.
func transposeExecutor(previous extension.NodeExecutor) extension.NodeExecutor {
	return func(be *extension.Backend, node *extension.Node, inputs []*extension.Buffer, owned []bool) (*extension.Buffer, error) {
		in, ok := inputs[0].Flat.([]float32)
		perm, okPerm := node.Data.([]int)
		if !ok || !okPerm {
			return previous(be, node, inputs, owned)
		}
		out, err := be.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		transposeFloat32(in, inputs[0].RawShape.Dimensions, perm, out.Flat.([]float32))
		return out, nil
	}
}

// transposeFloat32 writes out[i_perm[0], …] = in[i_0, …], out's axis a being in's axis perm[a].
func transposeFloat32(in []float32, dims, perm []int, out []float32) {
	// Drop size-1 axes, then merge output axes whose input axes are also adjacent, in order.
	renum := make([]int, len(dims)) // input axis → index among the kept ones, -1 if dropped
	var kept []int                  // sizes of the kept input axes
	for ax, n := range dims {
		renum[ax] = -1
		if n != 1 {
			renum[ax] = len(kept)
			kept = append(kept, n)
		}
	}
	type group struct{ first, span, size int } // consecutive kept input axes
	var groups []group                         // in output order
	for _, ax := range perm {
		k := renum[ax]
		if k < 0 {
			continue
		}
		if l := len(groups) - 1; l >= 0 && groups[l].first+groups[l].span == k {
			groups[l].span++
			groups[l].size *= kept[k]
			continue
		}
		groups = append(groups, group{first: k, span: 1, size: kept[k]})
	}
	// Merged input axis of each group: its rank by first kept axis.
	d := make([]int, len(groups)) // merged input dims
	p := make([]int, len(groups)) // output axis g is merged input axis p[g]
	for g := range groups {
		for h := range groups {
			if groups[h].first < groups[g].first {
				p[g]++
			}
		}
		d[p[g]] = groups[g].size
	}
	r := len(d)
	if r <= 1 || isIdentity(p) {
		forChunks(len(in), func(lo, hi int) { copy(out[lo:hi], in[lo:hi]) })
		return
	}
	// Input strides of the merged axes.
	inStr := make([]int, r)
	s := 1
	for a := r - 1; a >= 0; a-- {
		inStr[a] = s
		s *= d[a]
	}
	// Output dims and, per output axis, its stride in the input.
	od := make([]int, r)
	st := make([]int, r)
	for a := range r {
		od[a], st[a] = d[p[a]], inStr[p[a]]
	}
	// Tiles: the last two output axes in blocks, everything outside them one task per index.
	rows, cols := od[r-2], od[r-1]
	outer := len(out) / (rows * cols)
	const tile = 32
	rowTiles, colTiles := (rows+tile-1)/tile, (cols+tile-1)/tile
	forSlices(outer*rowTiles, tile*cols, func(t int) {
		o, rt := t/rowTiles, t%rowTiles
		base, rem := 0, o
		for a := r - 3; a >= 0; a-- {
			base += (rem % od[a]) * st[a]
			rem /= od[a]
		}
		outBase := o * rows * cols
		i0, i1 := rt*tile, min(rows, (rt+1)*tile)
		for ct := range colTiles {
			j0, j1 := ct*tile, min(cols, (ct+1)*tile)
			for i := i0; i < i1; i++ {
				src := base + i*st[r-2]
				dst := out[outBase+i*cols+j0 : outBase+i*cols+j1]
				for j := range dst {
					dst[j] = in[src+(j0+j)*st[r-1]]
				}
			}
		}
	})
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if i != v {
			return false
		}
	}
	return true
}
