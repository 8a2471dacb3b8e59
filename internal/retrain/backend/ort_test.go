package backend

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
	"github.com/sbinet/npyio"

	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestForwardMatchesONNXRuntime runs the Fashion-MNIST models on training images through this
// backend (every forward kernel: GEMM, the direct convolution, fused BatchNormalization and
// ReLU, pooling) and through ONNX Runtime: the logits must agree.
func TestForwardMatchesONNXRuntime(t *testing.T) {
	rt := testutil.Runtime(t)
	f, err := os.Open(testutil.RepoFile(t, "testdata/fmnist/x_calib.npy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all []float32
	if err := npyio.Read(f, &all); err != nil {
		t.Fatal(err)
	}
	const batch = 96
	x := all[:batch*28*28]
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"testdata/fmnist/mlp.onnx", "testdata/fmnist/cnn.onnx"} {
		t.Run(file, func(t *testing.T) {
			path := testutil.RepoFile(t, file)
			sess, err := rt.NewSession(path, runtime.SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			out, err := sess.Run(context.Background(), map[string]*runtime.Tensor{
				"input": runtime.NewTensorFloat32([]int64{batch, 1, 28, 28}, x)}, []string{"logits"})
			if err != nil {
				t.Fatal(err)
			}
			want, err := out["logits"].Float32s()
			if err != nil {
				t.Fatal(err)
			}
			m, err := parser.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			store := model.NewStore()
			if err := m.VariablesToScope(store.RootScope()); err != nil {
				t.Fatal(err)
			}
			res, err := model.CallOnce(be, store, func(scope *model.Scope, in *graph.Node) *graph.Node {
				return m.CallGraph(scope, in.Graph(), map[string]*graph.Node{"input": in}, "logits")[0]
			}, tensors.FromFlatDataAndDimensions(x, batch, 1, 28, 28))
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](res)
			if len(got) != len(want) {
				t.Fatalf("%d logits, ONNX Runtime %d", len(got), len(want))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("logit %d: %g, ONNX Runtime %g", i, got[i], want[i])
				}
			}
		})
	}
}
