package quant

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

func TestSmokeDynamicMLP(t *testing.T) {
	rt := openRuntime(t)
	path := repoFile(t, "testdata/fmnist/mlp.onnx")
	needFile(t, path)
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fp := encode(t, m)
	res, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	q := encode(t, m)
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 4*784)
	for i := range x {
		x[i] = r.Float32()
	}
	in := map[string]*runtime.Tensor{"input": runtime.NewTensorFloat32([]int64{4, 1, 28, 28}, x)}
	a := run(t, rt, fp, in)
	b := run(t, rt, q, in)
	t.Logf("cos %v sizes %d -> %d", cosine(a, b), len(fp), len(q))
	if c := cosine(a, b); c < 0.999 || len(q)*10 > len(fp)*3 {
		t.Errorf("cosine %.5f (want >= 0.999), size %d -> %d (want <= 30%%)", c, len(fp), len(q))
	}
}

func TestSmokeStaticMLP(t *testing.T) {
	rt := openRuntime(t)
	path := repoFile(t, "testdata/fmnist/mlp.onnx")
	needFile(t, path)
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 64*784)
	for i := range x {
		x[i] = r.Float32()
	}
	cal := t.TempDir() + "/x.npy"
	writeNPY(t, cal, []int64{64, 1, 28, 28}, x)
	in := map[string]*runtime.Tensor{"input": runtime.NewTensorFloat32([]int64{4, 1, 28, 28}, x[:4*784])}
	for _, f := range []Format{QDQ, QOperator} {
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		fp := encode(t, m)
		opts := Options{Mode: Static, Format: f, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: []string{"all"}}
		ranges := calibrateFile(t, rt, m, opts, cal, CalibrationOptions{})
		res, err := Quantize(context.Background(), m, opts, ranges)
		if err != nil {
			t.Fatal(err)
		}
		q := encode(t, m)
		a := run(t, rt, fp, in)
		b := run(t, rt, q, in)
		t.Logf("%s: %+v cos %v sizes %d -> %d", f, res, cosine(a, b), len(fp), len(q))
		if c := cosine(a, b); c < 0.999 || res.NodesQuantized["Gemm"] != 3 {
			t.Errorf("%s: cosine %.5f (want >= 0.999), quantized %v (want 3 Gemm)", f, c, res.NodesQuantized)
		}
	}
}
