package backend

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
)

// The fixed synthetic training step that the benchmarks time and testdata/fmnist/bench_train.py
// mirrors in PyTorch: forward, softmax cross-entropy on fixed labels, backward, and a plain SGD
// update of every float weight except BatchNormalization's running statistics (which ONNX
// inference-mode BN reads but does not train).
const (
	stepLR    = 0.01
	benchSize = 128
)

type trainStep struct {
	exec  *model.Exec
	store *model.Store
	x, y  *tensors.Tensor
}

func newTrainStep(tb testing.TB, file string, batch int) *trainStep {
	tb.Helper()
	be, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	m, err := parser.ParseFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	store := model.NewStore()
	if err := m.VariablesToScope(store.RootScope()); err != nil {
		tb.Fatal(err)
	}
	var trainable []*model.Variable
	for v := range store.IterVariables() {
		if v.DType() == dtypes.Float32 && !strings.Contains(v.Name(), "running") {
			trainable = append(trainable, v)
		}
	}
	exec, err := model.NewExec(be, store, func(scope *model.Scope, x, y *graph.Node) *graph.Node {
		g := x.Graph()
		logits := m.CallGraph(scope, g, map[string]*graph.Node{"input": x}, "logits")[0]
		l := graph.ReduceAllMean(loss.SparseCategoricalCrossEntropyLogits([]*graph.Node{y}, []*graph.Node{logits}))
		values := make([]*graph.Node, len(trainable))
		for i, v := range trainable {
			values[i] = v.NodeValue(g)
		}
		grads := graph.Gradient(l, values...)
		for i, v := range trainable {
			v.SetNodeValue(graph.Sub(values[i], graph.MulScalar(grads[i], stepLR)))
		}
		return l
	})
	if err != nil {
		tb.Fatal(err)
	}
	// Synthetic, deterministic batch: pixel ramps and labels 0…9.
	x := tensors.FromShape(shapes.Make(dtypes.Float32, batch, 1, 28, 28))
	tensors.MustMutableFlatData(x, func(d []float32) {
		for i := range d {
			d[i] = float32((i*7919)%256) / 255
		}
	})
	y := tensors.FromShape(shapes.Make(dtypes.Int64, batch, 1))
	tensors.MustMutableFlatData(y, func(d []int64) {
		for i := range d {
			d[i] = int64(i % 10)
		}
	})
	return &trainStep{exec: exec, store: store, x: x, y: y}
}

func (s *trainStep) run(tb testing.TB) float32 {
	out, err := s.exec.Exec(s.x, s.y)
	if err != nil {
		tb.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])[0]
}

// weights returns every variable's values, by name.
func (s *trainStep) weights() map[string][]float32 {
	w := map[string][]float32{}
	for v := range s.store.IterVariables() {
		if v.DType() == dtypes.Float32 {
			w[v.Name()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	return w
}

const (
	mlpFile = "../../../testdata/fmnist/mlp.onnx"
	cnnFile = "../../../testdata/fmnist/cnn.onnx"
)

// TestTrainStepDeterministic trains the Fashion-MNIST models for a few steps twice from the
// same weights: the loss must fall and both runs must end with bit-identical weights.
func TestTrainStepDeterministic(t *testing.T) {
	for _, file := range []string{mlpFile, cnnFile} {
		t.Run(file[strings.LastIndex(file, "/")+1:], func(t *testing.T) {
			var results []map[string][]float32
			for range 2 {
				s := newTrainStep(t, file, 32)
				first := s.run(t)
				var last float32
				for range 4 {
					last = s.run(t)
				}
				if !(last < first) || math.IsNaN(float64(last)) {
					t.Fatalf("loss went from %g to %g in 5 SGD steps", first, last)
				}
				results = append(results, s.weights())
			}
			if len(results[0]) == 0 {
				t.Fatal("no weights")
			}
			for name, w := range results[0] {
				again := results[1][name]
				for i := range w {
					if math.Float32bits(w[i]) != math.Float32bits(again[i]) {
						t.Fatalf("%s[%d]: %g then %g", name, i, w[i], again[i])
					}
				}
			}
		})
	}
}

func benchTrainStep(b *testing.B, file string) {
	s := newTrainStep(b, file, benchSize)
	s.run(b) // compile
	b.ResetTimer()
	for b.Loop() {
		s.run(b)
	}
	b.ReportMetric(float64(b.N*benchSize)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkTrainStepMLP(b *testing.B) { benchTrainStep(b, mlpFile) }
func BenchmarkTrainStepCNN(b *testing.B) { benchTrainStep(b, cnnFile) }
