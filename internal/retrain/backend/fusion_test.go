package backend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func sign32(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// TestFusedBatchNormReluMatchesReference runs an inference BatchNormalization and ReLU, and
// ReLU's gradient, through gomlx: the chains are fused (TestFuseElementwise checks that), and
// must give exactly what the same float32 operations give one by one.
func TestFusedBatchNormReluMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	n, c, h, w := 3, 4, 5, 6
	x, v := randFloats(r, n*c*h*w), randFloats(r, n*c*h*w)
	x[0], x[1] = 0, float32(math.NaN())
	bias, mean, std, scale, shift := randFloats(r, c), randFloats(r, c), randFloats(r, c), randFloats(r, c), randFloats(r, c)
	ch := func(vals []float32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(vals, 1, c, 1, 1) }
	got := run(t, func(in []*graph.Node) []*graph.Node {
		y := graph.Add(graph.Mul(graph.Div(graph.Sub(graph.Add(in[0], in[2]), in[3]), in[4]), in[5]), in[6])
		relu := graph.Max(y, graph.ZerosLike(y))
		loss := graph.ReduceAllSum(graph.Mul(relu, in[1]))
		return []*graph.Node{relu, graph.Gradient(loss, in[0])[0]}
	}, tensors.FromFlatDataAndDimensions(x, n, c, h, w), tensors.FromFlatDataAndDimensions(v, n, c, h, w),
		ch(bias), ch(mean), ch(std), ch(scale), ch(shift))
	for i := range x {
		k := (i / (h * w)) % c
		y := ((x[i]+bias[k])-mean[k])/std[k]*scale[k] + shift[k]
		relu := max(y, 0)
		if math.Float32bits(got[0][i]) != math.Float32bits(relu) {
			t.Fatalf("relu[%d] = %g, want %g", i, got[0][i], relu)
		}
		// gomlx's VJP of Max(y, 0) for y: v·Sign(Sign(y-0)+1), then back through the affine part.
		dy := v[i] * sign32(sign32(y-0)+1)
		dx := dy * scale[k] / std[k]
		if math.Float32bits(got[1][i]) != math.Float32bits(dx) && !(math.IsNaN(float64(got[1][i])) && math.IsNaN(float64(dx))) {
			t.Fatalf("dx[%d] = %g, want %g", i, got[1][i], dx)
		}
	}
}

// TestFuseElementwise builds a backend graph directly and checks what the pass fuses: a chain
// whose inner results have one use becomes one node; a result used twice stays a node.
func TestFuseElementwise(t *testing.T) {
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b := be.Builder("fusion")
	f := b.Main()
	full := shapes.Make(dtypes.Float32, 2, 3, 4)
	perChan := shapes.Make(dtypes.Float32, 1, 3, 1)
	must := func(v compute.Value, err error) compute.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x := must(f.Parameter("x", full, nil))
	m := must(f.Parameter("m", perChan, nil))
	s := must(f.Parameter("s", perChan, nil))
	k := must(f.Constant([]float32{2}))
	centred := must(f.Sub(x, m))      // used twice: stays
	scaled := must(f.Div(centred, s)) // one use: absorbed
	y := must(f.Mul(must(f.Neg(scaled)), k))
	z := must(f.Add(centred, must(f.Sign(centred))))
	if err := f.Return([]compute.Value{y, z}, nil); err != nil {
		t.Fatal(err)
	}
	fn := f.(*extension.Function)
	fuseFunction(fn)
	yd, ok := y.(*extension.Node).Data.(*fusedNode)
	if !ok || len(yd.code) != 3 {
		t.Fatalf("y = %v: want Div, Neg and Mul fused into it", y.(*extension.Node).Data)
	}
	if _, ok := centred.(*extension.Node).Data.(*fusedNode); ok {
		t.Fatal("a result used twice was fused")
	}
	if zd, ok := z.(*extension.Node).Data.(*fusedNode); !ok || len(zd.code) != 2 {
		t.Fatalf("z: want Sign and Add fused, got %v", z.(*extension.Node).Data)
	}
	exec, err := b.Compile()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(63, 64))
	xv, mv, sv := randFloats(r, 24), randFloats(r, 3), randFloats(r, 3)
	var inputs []compute.Buffer
	for _, in := range []struct {
		v []float32
		s shapes.Shape
	}{{xv, full}, {mv, perChan}, {sv, perChan}} {
		buf, err := be.BufferFromFlatData(0, in.v, in.s)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, buf)
	}
	outs, err := exec.Execute(inputs, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	gotY, gotZ := make([]float32, 24), make([]float32, 24)
	if err := outs[0].ToFlatData(gotY); err != nil {
		t.Fatal(err)
	}
	if err := outs[1].ToFlatData(gotZ); err != nil {
		t.Fatal(err)
	}
	wantY, wantZ := make([]float32, 24), make([]float32, 24)
	for i := range xv {
		ch := (i / 4) % 3
		cen := xv[i] - mv[ch]
		wantY[i] = -(cen / sv[ch]) * 2
		wantZ[i] = cen + sign32(cen)
	}
	if !slices.Equal(gotY, wantY) || !slices.Equal(gotZ, wantZ) {
		t.Fatalf("got y %v z %v, want y %v z %v", gotY[:4], gotZ[:4], wantY[:4], wantZ[:4])
	}
}
