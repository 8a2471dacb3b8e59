package ortbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

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
			modes := []runtime.ArenaMode{runtime.ArenaKeep, runtime.ArenaShrink, runtime.ArenaOff}
			sessions := make([]*runtime.Session, len(modes))
			for i, mode := range modes {
				s, err := rt.NewSession(c.path, runtime.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1, CPUArena: mode})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				sessions[i] = s
			}
			for range b.N {
				// Modes take turns in short phases, so that load from other
				// jobs on the machine falls on all of them alike.
				const rounds = 6
				runs := make([]float64, len(modes))
				secs := make([]float64, len(modes))
				for range rounds {
					for i, s := range sessions {
						r := drive(1, *benchDuration/rounds, func() error { _, err := s.Run(context.Background(), feed, nil); return err })
						runs[i] += float64(r.n)
						secs[i] += r.elapsed.Seconds()
					}
				}
				for i, mode := range modes {
					b.Logf("%-6s %8.1f runs/s", mode, runs[i]/secs[i])
					if i > 0 {
						b.ReportMetric(100*(runs[i]/secs[i])/(runs[0]/secs[0]), fmt.Sprintf("pct_of_keep/%s", mode))
					}
				}
			}
		})
	}
}
