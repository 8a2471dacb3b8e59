package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// addModel computes y = x + b for x of shape [batch, 3] with b a constant.
func addModel(t testing.TB) []byte {
	return buildModel(t,
		[]*onnxpb.NodeProto{node("Add", []string{"x", "b"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float, "batch", 3)},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float, "batch", 3)},
		floatInit("b", []int64{3}, []float32{10, 20, 30}))
}

func TestSessionMetadataAndRun(t *testing.T) {
	r := openRuntime(t)
	s, err := r.NewSession(addModel(t), SessionOptions{IntraOpThreads: 1, GraphOptimization: OptimizeBasic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := s.Inputs()
	if len(in) != 1 || in[0].Name != "x" || in[0].DataType != onnx.Float ||
		fmt.Sprint(in[0].Shape) != "[-1 3]" || fmt.Sprint(in[0].DimNames) != "[batch ]" || !in[0].RankKnown {
		t.Errorf("Inputs() = %+v (the initializer b must not be listed)", in)
	}
	out, err := s.Run(context.Background(), map[string]*Tensor{
		"x": NewTensorFloat32([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := out["y"].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out["y"].Shape, y) != "[2 3] [11 22 33 14 25 36]" {
		t.Errorf("y = %v %v", out["y"].Shape, y)
	}
}

func TestSessionFromFileAndBadModels(t *testing.T) {
	r := openRuntime(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "add.onnx")
	os.WriteFile(path, addModel(t), 0o644)
	s, err := r.NewSession(path, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // idempotent
	if _, err := s.Run(context.Background(), nil, nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run on a closed session: %v", err)
	}

	corrupt := filepath.Join(dir, "corrupt.onnx")
	os.WriteFile(corrupt, []byte("\x3a\xff\xff\xff\xff\x0f"), 0o644)
	for name, model := range map[string]any{
		"missing file": filepath.Join(dir, "nope.onnx"),
		"corrupt file": corrupt,
		"empty bytes":  []byte{},
		"wrong type":   42,
	} {
		if _, err := r.NewSession(model, SessionOptions{}); err == nil {
			t.Errorf("%s: NewSession succeeded", name)
		}
	}
	if providers, _ := r.Providers(); !slices.Contains(providers, "CUDAExecutionProvider") {
		_, err := r.NewSession(addModel(t), SessionOptions{Providers: []string{"cuda"}})
		if err == nil || !strings.Contains(err.Error(), "CUDA") {
			t.Errorf("CUDA on a library without it: got %v, want an error naming CUDA", err)
		}
	}
	if _, err := r.NewSession(addModel(t), SessionOptions{Providers: []string{"CPU"}, InterOpThreads: 2}); err != nil {
		t.Errorf("explicit CPU provider: %v", err)
	}
	for _, opts := range []SessionOptions{
		{IntraOpThreads: -1},
		{Providers: []string{"tpu"}},
		{Providers: []string{"cuda:x"}},
		{GraphOptimization: GraphOptimization(99)},
	} {
		if _, err := r.NewSession(addModel(t), opts); err == nil {
			t.Errorf("options %+v: NewSession succeeded", opts)
		}
	}
}

func TestRunInputErrors(t *testing.T) {
	r := openRuntime(t)
	s, err := r.NewSession(addModel(t), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := NewTensorFloat32([]int64{1, 3}, []float32{1, 2, 3})
	cases := []struct {
		name    string
		inputs  map[string]*Tensor
		outputs []string
		want    string
	}{
		{"missing", map[string]*Tensor{}, nil, `missing input "x" (FLOAT [batch,3])`},
		{"unknown", map[string]*Tensor{"x": good, "z": good}, nil, `no input "z"`},
		{"dtype", map[string]*Tensor{"x": NewTensorFloat64([]int64{1, 3}, []float64{1, 2, 3})}, nil, `is DOUBLE but the model expects FLOAT`},
		{"rank", map[string]*Tensor{"x": NewTensorFloat32([]int64{3}, []float32{1, 2, 3})}, nil, `has shape [3]`},
		{"dim", map[string]*Tensor{"x": NewTensorFloat32([]int64{1, 4}, []float32{1, 2, 3, 4})}, nil, `dimension 1 must be 3`},
		{"short data", map[string]*Tensor{"x": NewTensorFloat32([]int64{2, 3}, []float32{1, 2, 3})}, nil, `needs 24 bytes, got 12`},
		{"output", map[string]*Tensor{"x": good}, []string{"nope"}, `no output "nope"; its outputs are y`},
	}
	for _, c := range cases {
		_, err := s.Run(context.Background(), c.inputs, c.outputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestRunElementTypes runs Identity over every element type the runtime
// converts specially, including the ones onnxruntime_go cannot allocate.
func TestRunElementTypes(t *testing.T) {
	r := openRuntime(t)
	cases := []struct {
		in   *Tensor
		dims []any
	}{
		{NewTensorFloat16([]int64{2, 2}, []float32{1, -2.5, 65504, 0.0001}), []any{"n", 2}},
		{NewTensorBFloat16([]int64{3}, []float32{1, -2.5, 3e38}), []any{"n"}},
		{NewTensorBool([]int64{3}, []bool{true, false, true}), []any{3}},
		{NewTensorString([]int64{2}, []string{"héllo", ""}), []any{"n"}},
		{NewTensorInt64([]int64{}, []int64{-7}), []any{}},
		{NewTensorUint8([]int64{0, 4}, nil), []any{"n", 4}},
		{NewTensorFloat16([]int64{0}, nil), []any{"n"}},
		{NewTensorInt8([]int64{2}, []int8{-128, 127}), []any{2}},
		{NewTensorUint64([]int64{1}, []uint64{math.MaxUint64}), []any{1}},
		{NewTensorFloat64([]int64{}, []float64{math.Pi}), []any{}},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s%v", c.in.DataType, c.in.Shape)
		t.Run(name, func(t *testing.T) {
			model := buildModel(t, []*onnxpb.NodeProto{node("Identity", []string{"x"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{valueInfo("x", c.in.DataType, c.dims...)},
				[]*onnxpb.ValueInfoProto{valueInfo("y", c.in.DataType, c.dims...)})
			s, err := r.NewSession(model, SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			out, err := s.Run(context.Background(), map[string]*Tensor{"x": c.in}, []string{"y"})
			if err != nil {
				t.Fatal(err)
			}
			y := out["y"]
			if y.DataType != c.in.DataType || fmt.Sprint(y.Shape) != fmt.Sprint(c.in.Shape) ||
				string(y.Data) != string(c.in.Data) || fmt.Sprint(y.Strings) != fmt.Sprint(c.in.Strings) {
				t.Errorf("Identity changed the tensor: in %+v, out %+v", c.in, y)
			}
		})
	}
}

// TestRunScalarOutput checks a rank-0 output, which onnxruntime_go cannot
// allocate itself.
func TestRunScalarOutput(t *testing.T) {
	r := openRuntime(t)
	model := buildModel(t,
		[]*onnxpb.NodeProto{node("ReduceSum", []string{"x"}, []string{"y"}, intAttr("keepdims", 0))},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float, "n")},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float)})
	s, err := r.NewSession(model, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*Tensor{"x": NewTensorFloat32([]int64{4}, []float32{1, 2, 3, 4.5})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := out["y"].Float32s()
	if len(out["y"].Shape) != 0 || len(v) != 1 || v[0] != 10.5 {
		t.Errorf("ReduceSum = %v %v, want [] [10.5]", out["y"].Shape, v)
	}
}

// TestRunFloat16DynamicOutput: an FP16 output whose size is not declared
// cannot be returned through onnxruntime_go; the error must say so.
func TestRunFloat16UnknownShape(t *testing.T) {
	r := openRuntime(t)
	model := buildModel(t, []*onnxpb.NodeProto{node("Identity", []string{"x"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float16, "n")},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float16, "m")})
	s, err := r.NewSession(model, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(context.Background(), map[string]*Tensor{"x": NewTensorFloat16([]int64{2}, []float32{1, 2})}, nil)
	if err == nil || !strings.Contains(err.Error(), "only known after running") {
		t.Errorf("got %v, want an error explaining the unknown FLOAT16 output shape", err)
	}
}

// slowModel chains n MatMuls of [rows,size] by [size,size]: with as many
// rows as columns, long enough to be cancelled in the middle.
func slowModel(t testing.TB, n, size int) []byte {
	w := make([]float32, size*size)
	for i := range w {
		w[i] = 1 / float32(size)
	}
	var nodes []*onnxpb.NodeProto
	prev := "x"
	for i := range n {
		out := fmt.Sprintf("h%d", i)
		if i == n-1 {
			out = "y"
		}
		nodes = append(nodes, node("MatMul", []string{prev, "w"}, []string{out}))
		prev = out
	}
	return buildModel(t, nodes,
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float, "rows", size)},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float, "rows", size)},
		floatInit("w", []int64{int64(size), int64(size)}, w))
}

func TestRunCancel(t *testing.T) {
	r := openRuntime(t)
	const size = 768
	s, err := r.NewSession(slowModel(t, 100, size), SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := NewTensorFloat32([]int64{size, size}, make([]float32, size*size))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, map[string]*Tensor{"x": x}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("already-cancelled context: got %v, want context.Canceled", err)
	}

	// 100 MatMuls of 768² take about two seconds on one thread (90 GFLOP).
	// Cancelling after 100 ms lands inside ORT: without the terminate flag
	// the run would finish and return no error.
	ctx, cancel = context.WithCancel(context.Background())
	var cancelled time.Time
	timer := time.AfterFunc(100*time.Millisecond, func() { cancelled = time.Now(); cancel() })
	defer timer.Stop()
	start := time.Now()
	_, err = s.Run(ctx, map[string]*Tensor{"x": x}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel during run: got %v after %v, want context.Canceled", err, time.Since(start))
	} else {
		t.Logf("run stopped %v after cancel", time.Since(cancelled).Round(time.Millisecond))
	}
	// The session still works after a terminated run (one row is quick).
	small := NewTensorFloat32([]int64{1, size}, make([]float32, size))
	if _, err := s.Run(context.Background(), map[string]*Tensor{"x": small}, nil); err != nil {
		t.Errorf("run after a cancelled run: %v", err)
	}
}

// TestRunConcurrent runs one session from many goroutines with different
// inputs and checks every result.
func TestRunConcurrent(t *testing.T) {
	r := openRuntime(t)
	s, err := r.NewSession(addModel(t), SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const workers, runs = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range runs {
				batch := 1 + (w+i)%5
				x := make([]float32, batch*3)
				for j := range x {
					x[j] = float32(w*1000 + i*10 + j)
				}
				out, err := s.Run(context.Background(), map[string]*Tensor{"x": NewTensorFloat32([]int64{int64(batch), 3}, x)}, nil)
				if err != nil {
					errs <- err
					return
				}
				y, _ := out["y"].Float32s()
				for j := range x {
					if want := x[j] + float32(10*(j%3+1)); y[j] != want {
						errs <- fmt.Errorf("worker %d run %d: y[%d] = %v, want %v", w, i, j, y[j], want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFashionMNIST runs the project's trained MLP when it is present.
func TestFashionMNIST(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "fmnist", "mlp.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s not generated yet", path)
	}
	r := openRuntime(t)
	s, err := r.NewSession(path, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, out := s.Inputs(), s.Outputs()
	if len(in) != 1 || in[0].Name != "input" || fmt.Sprint(in[0].Shape) != "[-1 1 28 28]" || in[0].DimNames[0] == "" {
		t.Errorf("inputs = %+v, want input FLOAT [batch,1,28,28]", in)
	}
	if len(out) != 1 || out[0].Name != "logits" || out[0].Shape[1] != 10 {
		t.Errorf("outputs = %+v, want logits [batch,10]", out)
	}
	res, err := s.Run(context.Background(), map[string]*Tensor{
		"input": NewTensorFloat32([]int64{4, 1, 28, 28}, make([]float32, 4*28*28))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res["logits"].Shape) != "[4 10]" {
		t.Errorf("logits shape %v, want [4 10]", res["logits"].Shape)
	}
}

// TestSessionExternalData loads a model whose weights live in an external
// file: by path it runs, as bytes it is refused with a clear message.
func TestSessionExternalData(t *testing.T) {
	r := openRuntime(t)
	const n = 512 // 2 KiB of weights, above the 1 KiB external threshold
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(i)
	}
	model := buildModel(t, []*onnxpb.NodeProto{node("Add", []string{"x", "w"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float, n)},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float, n)},
		floatInit("w", []int64{n}, w))
	m, err := onnx.Decode(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ext.onnx")
	if err := m.Save(path, onnx.SaveOptions{External: onnx.ExternalAlways}); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) < 2 {
		t.Fatalf("Save wrote no external data file: %v", files)
	}
	s, err := r.NewSession(path, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*Tensor{"x": NewTensorFloat32([]int64{n}, make([]float32, n))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if y, _ := out["y"].Float32s(); y[n-1] != n-1 {
		t.Errorf("y[%d] = %v, want %d (weights read from the external file)", n-1, y[n-1], n-1)
	}
	b, _ := os.ReadFile(path)
	if _, err := r.NewSession(b, SessionOptions{}); err == nil || !strings.Contains(err.Error(), "load it by path") {
		t.Errorf("external-data model as bytes: got %v, want a 'load it by path' error", err)
	}
}

func TestNewSessionContext(t *testing.T) {
	r := openRuntime(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.NewSessionContext(ctx, addModel(t), SessionOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
	// A big model (16 MiB of weights) takes a while to load; cancelling
	// during the load returns at once and the late session is closed.
	ctx, cancel = context.WithCancel(context.Background())
	model := slowModel(t, 1, 2048)
	go cancel()
	s, err := r.NewSessionContext(ctx, model, SessionOptions{})
	if err == nil {
		s.Close() // the load won the race; nothing to check
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel during load: got %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s, err = r.NewSessionContext(ctx, addModel(t), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
