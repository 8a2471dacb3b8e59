package ortbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// BenchmarkArenaModes is what serve's --cpu-arena costs: single-threaded
// in-process runs per second with the arena shrunk after every run
// (shrink, serve's default) and without an arena (off), as ratios against
// ORT's default arena (keep) measured in the same run, on the Fashion-MNIST
// MLP at batch 1 and 64 and the MiniLM-size encoder at batch 1. Each phase
// lasts -serve.duration (30 s under make bench).
func BenchmarkArenaModes(b *testing.B) {
	enc, err := testmodels.Encoder(true)
	if err != nil {
		b.Fatal(err)
	}
	encPath := filepath.Join(b.TempDir(), "encoder.onnx")
	if err := enc.Save(encPath, onnx.SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, path, input string
		shape             []int64
		x                 []float32
	}{
		{"mlp/batch=1", mlpPath, "input", []int64{1, 1, 28, 28}, images(rand.New(rand.NewPCG(1, 2)), 1)},
		{"mlp/batch=64", mlpPath, "input", []int64{64, 1, 28, 28}, images(rand.New(rand.NewPCG(1, 2)), 64)},
		{"encoder/batch=1", encPath, "hidden", []int64{1, testmodels.EncoderSeq, testmodels.EncoderHidden}, testmodels.EncoderInput(1)},
	}
	rt := openRuntime(b)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			feed := map[string]*runtime.Tensor{c.input: runtime.NewTensorFloat32(c.shape, c.x)}
			for range b.N {
				rates := map[runtime.ArenaMode]float64{}
				for _, mode := range []runtime.ArenaMode{runtime.ArenaKeep, runtime.ArenaShrink, runtime.ArenaOff} {
					s, err := rt.NewSession(c.path, runtime.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1, CPUArena: mode})
					if err != nil {
						b.Fatal(err)
					}
					r := drive(1, *benchDuration, func() error { _, err := s.Run(context.Background(), feed, nil); return err })
					s.Close()
					rates[mode] = r.rate()
					b.Logf("%-6s %8.0f runs/s p50 %v p99 %v", mode, r.rate(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
				}
				for _, mode := range []runtime.ArenaMode{runtime.ArenaShrink, runtime.ArenaOff} {
					b.ReportMetric(100*rates[mode]/rates[runtime.ArenaKeep], fmt.Sprintf("pct_of_keep/%s", mode))
				}
			}
		})
	}
}
