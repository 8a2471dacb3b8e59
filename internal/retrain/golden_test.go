package retrain

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// golden is testdata/retrain/golden.json, written by generate.py there.
type golden struct {
	Rows, Steps int
	Recipes     map[string]struct {
		Recipe struct {
			Model, Opt, Schedule, Trainable string
			LR, WD, Smoothing               float64
			Warmup                          int
			BN                              bool
		}
		Losses  []float64
		Weights map[string][]float64
	}
}

// TestTorchGolden runs torch's recipes step for step (one full batch per
// step, so shuffling plays no part) and compares every loss and every
// weight: the optimizers, schedules, label smoothing and BatchNormalization
// handling are torch's.
func TestTorchGolden(t *testing.T) {
	raw, err := os.ReadFile(testutil.RepoFile(t, "testdata/retrain/golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gd golden
	if err := json.Unmarshal(raw, &gd); err != nil {
		t.Fatal(err)
	}
	for name, g := range gd.Recipes {
		t.Run(name, func(t *testing.T) {
			rc := g.Recipe
			h := DefaultHyperparameters()
			h.Epochs, h.BatchSize, h.LR, h.WeightDecay, h.LabelSmoothing, h.Warmup = gd.Steps, gd.Rows, rc.LR, rc.WD, rc.Smoothing, rc.Warmup
			h.Optimizer = rc.Opt
			if rc.Schedule != "" {
				h.LRSchedule = rc.Schedule
			}
			var losses []float64
			out := filepath.Join(t.TempDir(), "out.onnx")
			req := Request{
				Model:  testutil.RepoFile(t, "testdata/retrain/"+rc.Model+".onnx"),
				Output: out, Hyper: h, UpdateBNStats: rc.BN,
				Train:     data.Spec{Path: testutil.RepoFile(t, "testdata/retrain/x_"+rc.Model+".npy"), LabelsPath: testutil.RepoFile(t, "testdata/retrain/y.npy")},
				OnStep:    func(_, _, _ int, loss float64) { losses = append(losses, loss) },
				Trainable: rc.Trainable,
			}
			if _, err := Run(context.Background(), nil, req); err != nil {
				t.Fatal(err)
			}
			for i, want := range g.Losses {
				if math.Abs(losses[i]-want) > 1e-5*math.Max(1, math.Abs(want)) {
					t.Errorf("step %d: loss %.7f, torch %.7f", i+1, losses[i], want)
				}
			}
			m, err := onnx.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for wname, want := range g.Weights {
				init := m.Graph().Initializer(wname)
				if init == nil {
					t.Fatalf("no initializer %s", wname)
				}
				got, _ := onnx.Float32s(m, init)
				worst := 0.0
				for i := range want {
					worst = math.Max(worst, math.Abs(float64(got[i])-want[i])/math.Max(1e-3, math.Abs(want[i])))
				}
				if worst > 1e-3 {
					t.Errorf("%s: relative difference up to %.2g from torch", wname, worst)
				}
			}
		})
	}
}
