package backend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// run executes fn on this package's backend and returns its outputs' values.
func run(t *testing.T, fn func([]*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) [][]float32 {
	t.Helper()
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(be, fn)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([][]float32, len(outs))
	for i, o := range outs {
		vals[i] = tensors.MustCopyFlatData[float32](o)
	}
	return vals
}

// at returns the flat index in dims of the multi-index idx, broadcasting axes of size 1.
func at(dims, idx []int) int {
	off := 0
	for a, n := range dims {
		i := idx[a]
		if n == 1 {
			i = 0
		}
		off = off*n + i
	}
	return off
}

func TestBinaryOpsMatchReference(t *testing.T) {
	ops := []struct {
		name string
		g    func(a, b *graph.Node) *graph.Node
		f    func(a, b float32) float32
	}{
		{"Add", graph.Add, func(a, b float32) float32 { return a + b }},
		{"Sub", graph.Sub, func(a, b float32) float32 { return a - b }},
		{"Mul", graph.Mul, func(a, b float32) float32 { return a * b }},
		{"Div", graph.Div, func(a, b float32) float32 { return a / b }},
		{"Max", graph.Max, func(a, b float32) float32 { return max(a, b) }},
		{"Min", graph.Min, func(a, b float32) float32 { return min(a, b) }},
	}
	pairs := [][2][]int{
		{{2, 3, 4, 5}, {2, 3, 4, 5}},
		{{4, 3, 5, 6}, {1, 3, 1, 1}}, // BatchNormalization's per-channel operand
		{{1, 3, 1, 1}, {4, 3, 5, 6}},
		{{1, 3, 1, 5}, {2, 3, 4, 1}}, // both broadcast
		{{5, 7}, {1, 7}},
		{{5, 7}, {5, 1}},
		{{300, 200}, {300, 200}}, // large enough to run in parallel
		{{128, 1}, {1, 1000}},
		{{6}, {1}},
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, pr := range pairs {
		a, b := randFloats(r, shapes.Make(0, pr[0]...).Size()), randFloats(r, shapes.Make(0, pr[1]...).Size())
		out := make([]int, len(pr[0]))
		for i := range out {
			out[i] = max(pr[0][i], pr[1][i])
		}
		for _, op := range ops {
			got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{op.g(in[0], in[1])} },
				tensors.FromFlatDataAndDimensions(a, pr[0]...), tensors.FromFlatDataAndDimensions(b, pr[1]...))[0]
			want := make([]float32, len(got))
			idx := make([]int, len(out))
			for i := range want {
				want[i] = op.f(a[at(pr[0], idx)], b[at(pr[1], idx)])
				increment(idx, out)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s %v %v: got %v…, want %v…", op.name, pr[0], pr[1], got[:min(4, len(got))], want[:min(4, len(want))])
			}
		}
	}
}

func TestReduceMatchesReference(t *testing.T) {
	dims := []int{3, 4, 5, 6}
	r := rand.New(rand.NewPCG(53, 54))
	x := randFloats(r, 3*4*5*6)
	big := randFloats(r, 64*50*70)
	for _, c := range []struct {
		dims []int
		data []float32
		axes []int
	}{
		{dims, x, []int{0}}, {dims, x, []int{1}}, {dims, x, []int{3}}, {dims, x, []int{0, 2}},
		{dims, x, []int{1, 3}}, {dims, x, []int{0, 2, 3}}, {dims, x, []int{0, 1, 2, 3}},
		{[]int{64, 50, 70}, big, []int{0, 2}}, {[]int{64, 50, 70}, big, []int{0}}, {[]int{64, 50, 70}, big, []int{0, 1, 2}},
	} {
		for _, red := range []struct {
			name string
			g    func(*graph.Node, ...int) *graph.Node
			init float64
			f    func(acc, v float64) float64
		}{
			{"Sum", graph.ReduceSum, 0, func(a, v float64) float64 { return a + v }},
			{"Max", graph.ReduceMax, math.Inf(-1), math.Max},
			{"Min", graph.ReduceMin, math.Inf(1), math.Min},
		} {
			got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{red.g(in[0], c.axes...)} },
				tensors.FromFlatDataAndDimensions(c.data, c.dims...))[0]
			var outDims []int
			for a, n := range c.dims {
				if !slices.Contains(c.axes, a) {
					outDims = append(outDims, n)
				}
			}
			want := make([]float64, max(1, shapes.Make(0, outDims...).Size()))
			for i := range want {
				want[i] = red.init
			}
			idx := make([]int, len(c.dims))
			for _, v := range c.data {
				o := 0
				for a, n := range c.dims {
					if !slices.Contains(c.axes, a) {
						o = o*n + idx[a]
					}
				}
				want[o] = red.f(want[o], float64(v))
				increment(idx, c.dims)
			}
			closeEnough(t, red.name, got, to32(want), len(c.data))
		}
	}
}

func TestTransposeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	for _, c := range []struct{ dims, perm []int }{
		{[]int{128, 784}, []int{1, 0}},
		{[]int{37, 53}, []int{1, 0}},
		{[]int{2, 3, 4, 5}, []int{0, 2, 1, 3}},
		{[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
		{[]int{2, 3, 4, 5}, []int{1, 2, 3, 0}},
		{[]int{3, 1, 4}, []int{2, 1, 0}},
		{[]int{1, 6, 1, 7}, []int{3, 2, 1, 0}},
		{[]int{5, 6, 7}, []int{0, 1, 2}},
		{[]int{9, 40, 33}, []int{0, 2, 1}},
	} {
		x := randFloats(r, shapes.Make(0, c.dims...).Size())
		got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{graph.TransposeAllAxes(in[0], c.perm...)} },
			tensors.FromFlatDataAndDimensions(x, c.dims...))[0]
		outDims := make([]int, len(c.dims))
		for a, p := range c.perm {
			outDims[a] = c.dims[p]
		}
		want := make([]float32, len(x))
		idx := make([]int, len(c.dims))
		for o := range want {
			src := make([]int, len(c.dims))
			for a, p := range c.perm {
				src[p] = idx[a]
			}
			want[o] = x[at(c.dims, src)]
			increment(idx, outDims)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("transpose %v by %v: got %v…, want %v…", c.dims, c.perm, got[:4], want[:4])
		}
	}
}

func TestUnaryOpsMatchUpstreamSemantics(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	x := []float32{-2.5, -0.0001, negZero, 0, 3, inf, -inf, nan}
	got := run(t, func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.Sign(in[0]), graph.Neg(in[0]), graph.Abs(in[0])}
	}, tensors.FromFlatDataAndDimensions(x, len(x)))
	sign := []float32{-1, -1, 0, 0, 1, 1, -1, 0} // upstream: NaN and ±0 give 0
	for i := range x {
		if got[0][i] != sign[i] {
			t.Fatalf("Sign(%g) = %g, want %g", x[i], got[0][i], sign[i])
		}
		if n := got[1][i]; math.Float32bits(n) != math.Float32bits(-x[i]) {
			t.Fatalf("Neg(%g) = %g", x[i], n)
		}
		if a := got[2][i]; math.Float32bits(a) != math.Float32bits(float32(math.Abs(float64(x[i])))) {
			t.Fatalf("Abs(%g) = %g", x[i], a)
		}
	}
}
