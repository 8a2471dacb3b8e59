package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
)

// rank3Window is a pooling over a rank-3 tensor, windows crossing every axis (so neither the
// batch split nor the 2-D fast path applies).
type rank3Window struct {
	dims, window, strides, inDil, winDil [3]int
	pads                                 [3][2]int
}

func (w rank3Window) outDims() [3]int {
	var o [3]int
	for a := range 3 {
		dilated := (w.dims[a]-1)*w.inDil[a] + 1 + w.pads[a][0] + w.pads[a][1]
		o[a] = (dilated-((w.window[a]-1)*w.winDil[a]+1))/w.strides[a] + 1
	}
	return o
}

// taps calls fn(output index, operand index) for every real operand element of every window,
// in row-major window order.
func (w rank3Window) taps(fn func(o, i int)) {
	od := w.outDims()
	for a := range od[0] {
		for b := range od[1] {
			for c := range od[2] {
				o := (a*od[1]+b)*od[2] + c
				for x := range w.window[0] {
					for y := range w.window[1] {
						for z := range w.window[2] {
							p := [3]int{a*w.strides[0] + x*w.winDil[0], b*w.strides[1] + y*w.winDil[1], c*w.strides[2] + z*w.winDil[2]}
							idx, ok := 0, true
							for ax := range 3 {
								q := p[ax] - w.pads[ax][0]
								if q < 0 || q%w.inDil[ax] != 0 || q/w.inDil[ax] >= w.dims[ax] {
									ok = false
									break
								}
								idx = idx*w.dims[ax] + q/w.inDil[ax]
							}
							if ok {
								fn(o, idx)
							}
						}
					}
				}
			}
		}
	}
}

func TestReduceWindowMatchesReference(t *testing.T) {
	cases := []rank3Window{
		{dims: [3]int{5, 6, 7}, window: [3]int{2, 3, 2}, strides: [3]int{1, 2, 2}, inDil: [3]int{1, 1, 1}, winDil: [3]int{1, 1, 1}},
		{dims: [3]int{4, 5, 6}, window: [3]int{2, 2, 3}, strides: [3]int{2, 1, 1}, inDil: [3]int{1, 2, 1}, winDil: [3]int{1, 1, 2},
			pads: [3][2]int{{1, 0}, {0, 2}, {1, 1}}},
	}
	r := rand.New(rand.NewPCG(41, 42))
	for _, c := range cases {
		operand := randFloats(r, c.dims[0]*c.dims[1]*c.dims[2])
		od := c.outDims()
		for _, red := range []compute.ReduceOpType{compute.ReduceOpMax, compute.ReduceOpMin, compute.ReduceOpSum} {
			want := make([]float64, od[0]*od[1]*od[2])
			for i := range want {
				switch red {
				case compute.ReduceOpMax:
					want[i] = math.Inf(-1)
				case compute.ReduceOpMin:
					want[i] = math.Inf(1)
				}
			}
			c.taps(func(o, i int) {
				v := float64(operand[i])
				switch red {
				case compute.ReduceOpMax:
					want[o] = math.Max(want[o], v)
				case compute.ReduceOpMin:
					want[o] = math.Min(want[o], v)
				default:
					want[o] += v
				}
			})
			d := &reduceWindowNode{reduction: red, window: c.window[:], strides: c.strides[:], inputDilations: c.inDil[:],
				windowDilations: c.winDil[:], paddings: c.pads[:]}
			got := make([]float32, len(want))
			reduceWindow(windowGeometry{dims: c.dims[:], outDims: od[:], d: d}, operand, got)
			closeEnough(t, red.String(), got, to32(want), 8)

			// float64 takes the same path.
			op64 := make([]float64, len(operand))
			for i, v := range operand {
				op64[i] = float64(v)
			}
			got64 := make([]float64, len(want))
			reduceWindow(windowGeometry{dims: c.dims[:], outDims: od[:], d: d}, op64, got64)
			closeEnough(t, red.String()+" float64", to32(got64), to32(want), 8)
		}
	}
}

func TestSelectAndScatterMatchesReference(t *testing.T) {
	c := rank3Window{dims: [3]int{5, 6, 7}, window: [3]int{2, 3, 3}, strides: [3]int{1, 2, 2}, inDil: [3]int{1, 1, 1},
		winDil: [3]int{1, 1, 1}, pads: [3][2]int{{0, 1}, {1, 1}, {2, 0}}}
	r := rand.New(rand.NewPCG(43, 44))
	operand := randFloats(r, c.dims[0]*c.dims[1]*c.dims[2])
	for i := range operand {
		operand[i] = float32(math.Round(float64(operand[i]) * 2)) // ties
	}
	od := c.outDims()
	source := randFloats(r, od[0]*od[1]*od[2])
	for _, isMin := range []bool{false, true} {
		best := make([]int, len(source))
		for i := range best {
			best[i] = -1
		}
		c.taps(func(o, i int) {
			b := best[o]
			if b < 0 || (!isMin && operand[i] > operand[b]) || (isMin && operand[i] < operand[b]) {
				best[o] = i
			}
		})
		want := make([]float32, len(operand))
		for o, i := range best {
			if i >= 0 {
				want[i] += source[o]
			}
		}
		g := scatterGeometry{dims: c.dims[:], srcDims: od[:], window: c.window[:], strides: c.strides[:], paddings: c.pads[:]}
		got := randFloats(r, len(operand))
		selectScatter(g, isMin, operand, source, got)
		closeEnough(t, "select and scatter", got, want, 8)
	}
}
