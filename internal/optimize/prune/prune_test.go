package prune

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

func loadModel(t *testing.T, rel string) *onnx.Model {
	t.Helper()
	m, err := onnx.Load(testutil.RepoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func floats(t *testing.T, m *onnx.Model, name string) []float32 {
	t.Helper()
	init := m.Graph().Initializer(name)
	if init == nil {
		t.Fatalf("no initializer %q", name)
	}
	v, err := onnx.AsFloat32s(m, init)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func evalSpec(t *testing.T) data.Spec {
	return data.Spec{
		Path:       testutil.RepoFile(t, "testdata/fmnist/x_test.npy"),
		LabelsPath: testutil.RepoFile(t, "testdata/fmnist/y_test.npy"),
		BatchSize:  1000,
	}
}

// The acceptance check of issue 5: global L1 pruning of the MLP zeroes the
// weights torch.nn.utils.prune.global_unstructured zeroes (ties aside), and
// accuracy matches torch's figure.
func TestGlobalL1MatchesTorch(t *testing.T) {
	raw, err := os.ReadFile(testutil.RepoFile(t, "testdata/prune/global_l1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Weights []string
		Amounts map[string]struct {
			Masks    map[string]string
			Zeros    map[string]int
			Accuracy float64
		}
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	rt := testutil.Runtime(t)
	for _, amount := range []string{"0.5", "0.8", "0.9"} {
		want := golden.Amounts[amount]
		t.Run(amount, func(t *testing.T) {
			orig := loadModel(t, "testdata/fmnist/mlp.onnx")
			m := orig.Clone()
			var s float64
			if err := json.Unmarshal([]byte(amount), &s); err != nil {
				t.Fatal(err)
			}
			r, err := Prune(context.Background(), m, Options{Sparsity: s, Scope: ScopeGlobal})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Layers) != 3 {
				t.Fatalf("pruned %d layers, want the 3 Gemm weights", len(r.Layers))
			}
			var total int
			for _, name := range golden.Weights {
				before, after := floats(t, orig, name), floats(t, m, name)
				packed, err := base64.StdEncoding.DecodeString(want.Masks[name])
				if err != nil {
					t.Fatal(err)
				}
				thr := threshold(before, after)
				mismatch, nonTie := 0, 0
				for i := range after {
					torchZero := packed[i/8]>>(7-uint(i%8))&1 == 1
					oursZero := after[i] == 0
					if torchZero != oursZero {
						mismatch++
						if float32(math.Abs(float64(before[i]))) != thr {
							nonTie++
						}
					}
					if oursZero {
						total++
					}
				}
				if nonTie > 0 {
					t.Errorf("%s: %d weights differ from torch away from the threshold tie", name, nonTie)
				}
				t.Logf("%s: torch zeroes %d, mismatches %d (all at ties)", name, want.Zeros[name], mismatch)
			}
			n := 256*784 + 128*256 + 10*128
			if wantTotal := int(math.RoundToEven(s * float64(n))); total != wantTotal {
				t.Errorf("zeroed %d weights, want round(%v×%d) = %d", total, s, n, wantTotal)
			}
			path := filepath.Join(t.TempDir(), "p.onnx")
			if err := m.Save(path, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			acc, _, err := accuracy(context.Background(), rt, path, evalSpec(t), runtime.SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("global L1 %s: accuracy mlops/ORT %.4f, torch %.4f", amount, acc, want.Accuracy)
			if math.Abs(acc-want.Accuracy) > 0.002 {
				t.Errorf("accuracy %.4f, torch measured %.4f", acc, want.Accuracy)
			}
		})
	}
}

// threshold is the largest |w| that pruning zeroed.
func threshold(before, after []float32) float32 {
	var thr float32
	for i, v := range after {
		if v == 0 {
			if a := float32(math.Abs(float64(before[i]))); a > thr {
				thr = a
			}
		}
	}
	return thr
}

func TestLayerScopeHitsTargetPerTensor(t *testing.T) {
	m := loadModel(t, "testdata/fmnist/mlp.onnx").Clone()
	r, err := Prune(context.Background(), m, Options{Sparsity: 0.3, Criterion: CriterionL2})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Layers {
		want := math.RoundToEven(0.3*float64(l.Params)) / float64(l.Params)
		if math.Abs(l.SparsityAfter-want) > 1e-12 {
			t.Errorf("%s: sparsity %v, want %v", l.Name, l.SparsityAfter, want)
		}
		if l.NormRetained <= 0.5 || l.NormRetained >= 1 {
			t.Errorf("%s: L2 norm retained %v, want in (0.5, 1) after removing the smallest 30%%", l.Name, l.NormRetained)
		}
	}
	if m.Graph().Initializer("net.1.bias") == nil {
		t.Fatal("bias disappeared")
	}
	b := floats(t, m, "net.1.bias")
	orig := floats(t, loadModel(t, "testdata/fmnist/mlp.onnx"), "net.1.bias")
	for i := range b {
		if b[i] != orig[i] {
			t.Fatal("a bias was modified; only weights may be pruned")
		}
	}
}

func TestTwoFourPattern(t *testing.T) {
	m := loadModel(t, "testdata/fmnist/mlp.onnx").Clone()
	r, err := Prune(context.Background(), m, Options{Pattern: "2:4"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "n:m" || len(r.Layers) != 3 {
		t.Fatalf("mode %s, %d layers", r.Mode, len(r.Layers))
	}
	// Gemm with transB=1 stores [out, in]: groups run along the last axis.
	for _, name := range []string{"net.1.weight", "net.3.weight", "net.5.weight"} {
		init := m.Graph().Initializer(name)
		in := int(init.GetDims()[1])
		w := floats(t, m, name)
		groups := 0
		for row := 0; row < len(w)/in; row++ {
			for g := 0; g < in; g += 4 {
				zeros := 0
				for _, v := range w[row*in+g : row*in+g+4] {
					if v == 0 {
						zeros++
					}
				}
				if zeros < 2 {
					t.Fatalf("%s row %d group %d has %d zeros, want ≥ 2", name, row, g/4, zeros)
				}
				groups++
			}
		}
		t.Logf("%s: all %d groups of 4 have ≥ 2 zeros", name, groups)
	}
}

func TestNMGroupsFollowInputAxis(t *testing.T) {
	// dims [2,4] along axis 0 (MatMul weight [K,N]): groups are columns.
	imp := []float32{
		1, 5, 9, 2,
		8, 1, 1, 7,
	}
	mask := nmMask(imp, []int64{2, 4}, 0, 1, 2)
	want := []bool{true, false, false, true, false, true, true, false}
	for i := range want {
		if mask[i] != want[i] {
			t.Fatalf("mask %v, want %v", mask, want)
		}
	}
}

func TestSmallestMaskTiesAreDeterministic(t *testing.T) {
	imp := [][]float32{{3, 1, 2, 1}, {1, 5}}
	got := smallestMask(imp, 2)
	want := [][]bool{{false, true, false, true}, {false, false}}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	}
	if v := kthSmallest([]float32{5, 4, 3, 2, 1, 0}, 2); v != 2 {
		t.Fatalf("kthSmallest = %v", v)
	}
}

func TestBadInput(t *testing.T) {
	m := loadModel(t, "testdata/fmnist/mlp.onnx")
	cases := []Options{
		{Sparsity: 1},
		{Sparsity: -0.1},
		{Sparsity: math.NaN()},
		{Pattern: "4:4"},
		{Pattern: "2:x"},
		{Scope: "everywhere", Sparsity: 0.5},
		{OpTypes: []string{"Add"}, Sparsity: 0.5},
		{Structured: true, Pattern: "2:4"},
	}
	for _, o := range cases {
		if _, err := Prune(context.Background(), m.Clone(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	_, err := Prune(context.Background(), m.Clone(), Options{Sparsity: 0.5, OpTypes: []string{"Conv"}})
	if !errors.Is(err, ErrNothingToPrune) {
		t.Errorf("Conv-only selection on an MLP: %v, want ErrNothingToPrune", err)
	}
	_, err = Prune(context.Background(), m.Clone(), Options{Sparsity: 0.5, MinParams: 1 << 20})
	if !errors.Is(err, ErrNothingToPrune) {
		t.Errorf("min-params above every layer: %v, want ErrNothingToPrune", err)
	}
}

func TestRunWritesNothingOnFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.onnx")
	_, err := Run(context.Background(), nil, Request{
		Input: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx"), Output: out,
		Options: Options{Sparsity: 0.5, OpTypes: []string{"Conv"}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output left behind: %v", err)
	}
}

func TestSparseStorageShrinksAndRuns(t *testing.T) {
	rt := testutil.Runtime(t)
	dir := t.TempDir()
	dense, sparse := filepath.Join(dir, "dense.onnx"), filepath.Join(dir, "sparse.onnx")
	in := testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")
	opts := Options{Sparsity: 0.9, Scope: ScopeGlobal}
	rd, err := Run(context.Background(), rt, Request{Input: in, Output: dense, Options: opts, Eval: evalSpec(t)})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Run(context.Background(), rt, Request{Input: in, Output: sparse, Options: opts, SparseStorage: true, Eval: evalSpec(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rs.SparseStored == 0 || rs.BytesAfter >= rd.BytesAfter*6/10 {
		t.Fatalf("sparse storage: %d tensors, %d bytes vs dense %d", rs.SparseStored, rs.BytesAfter, rd.BytesAfter)
	}
	if rs.Accuracy.After != rd.Accuracy.After {
		t.Fatalf("sparse copy computes differently: accuracy %v vs %v", rs.Accuracy.After, rd.Accuracy.After)
	}
	t.Logf("90%% global: file bytes %d → dense %d, sparse %d; accuracy %.4f → %.4f",
		rd.BytesBefore, rd.BytesAfter, rs.BytesAfter, rd.Accuracy.Before, rd.Accuracy.After)
}

func TestMaxDropSearch(t *testing.T) {
	rt := testutil.Runtime(t)
	out := filepath.Join(t.TempDir(), "p.onnx")
	r, err := Run(context.Background(), rt, Request{
		Input: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx"), Output: out,
		Options: Options{Scope: ScopeGlobal}, MaxDrop: 0.01, Eval: evalSpec(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Accuracy == nil || r.Accuracy.Drop > 0.01 {
		t.Fatalf("accuracy %+v exceeds the 0.01 bound", r.Accuracy)
	}
	if r.SparsityAfter < 0.3 {
		t.Errorf("search settled on sparsity %v; the MLP keeps accuracy well past 30%%", r.SparsityAfter)
	}
	for _, st := range r.Search {
		if st.Within && st.Sparsity > r.Sparsity+1e-9 {
			t.Errorf("step %+v passed at a higher sparsity than the chosen %v", st, r.Sparsity)
		}
	}
	t.Logf("max-drop 0.01: chose sparsity %.3f, accuracy %.4f → %.4f in %d steps", r.Sparsity, r.Accuracy.Before, r.Accuracy.After, len(r.Search))
}
