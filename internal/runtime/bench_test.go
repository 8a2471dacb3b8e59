package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// BenchmarkRunOverhead measures Session.Run against calling onnxruntime_go
// directly on the same model in the same process (the baseline): the ratio
// is the cost of input checks, tensor conversion and cancellation support.
// Run with: go test ./internal/runtime -run '^$' -bench RunOverhead
func BenchmarkRunOverhead(b *testing.B) {
	path := filepath.Join("..", "..", "testdata", "fmnist", "mlp.onnx")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("skipping: %s not generated", path)
	}
	r := openRuntime(b)
	for _, batch := range []int64{1, 64} {
		x := make([]float32, batch*28*28)
		for i := range x {
			x[i] = float32(i%255) / 255
		}
		shape := []int64{batch, 1, 28, 28}

		b.Run("batch="+strconv.FormatInt(batch, 10)+"/mlops", func(b *testing.B) {
			s, err := r.NewSession(path, SessionOptions{IntraOpThreads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for b.Loop() {
				in := map[string]*Tensor{"input": NewTensorFloat32(shape, x)}
				out, err := s.Run(ctx, in, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := out["logits"].Float32s(); err != nil {
					b.Fatal(err)
				}
			}
		})

		b.Run("batch="+strconv.FormatInt(batch, 10)+"/mlops-shared", func(b *testing.B) {
			s, err := r.NewSession(path, SessionOptions{IntraOpThreads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for b.Loop() {
				out, err := s.Run(ctx, map[string]*Tensor{"input": ShareTensor(shape, x)}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := out["logits"].Float32s(); err != nil {
					b.Fatal(err)
				}
			}
		})

		b.Run("batch="+strconv.FormatInt(batch, 10)+"/onnxruntime_go", func(b *testing.B) {
			so, _ := ort.NewSessionOptions()
			so.SetIntraOpNumThreads(1)
			defer so.Destroy()
			das, err := ort.NewDynamicAdvancedSession(path, []string{"input"}, []string{"logits"}, so)
			if err != nil {
				b.Fatal(err)
			}
			defer das.Destroy()
			for b.Loop() {
				in, err := ort.NewTensor(ort.NewShape(shape...), x)
				if err != nil {
					b.Fatal(err)
				}
				out := []ort.Value{nil}
				if err := das.Run([]ort.Value{in}, out); err != nil {
					b.Fatal(err)
				}
				_ = out[0].(*ort.Tensor[float32]).GetData()
				in.Destroy()
				out[0].Destroy()
			}
		})
	}
}
