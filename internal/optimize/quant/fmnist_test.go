package quant

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/optimize/calib"
)

// TestFashionMNISTAcceptance quantizes the testdata MLP and CNN dynamically
// and statically and checks the acceptance figures on the 10,000
// test images: at most 0.3 pp accuracy lost, files at most 30% of fp32.
// Both are deterministic for the committed models and data.
func TestFashionMNISTAcceptance(t *testing.T) {
	rt := openRuntime(t)
	xTest := repoFile(t, "testdata/fmnist/x_test.npy")
	yTest := repoFile(t, "testdata/fmnist/y_test.npy")
	xCalib := repoFile(t, "testdata/fmnist/x_calib.npy")
	needFile(t, xTest)
	needFile(t, yTest)
	needFile(t, xCalib)
	cases := []struct {
		name   string
		opts   Options
		method calib.Method
	}{
		{"dynamic", Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, ""},
		{"dynamic-per-channel", Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true, PerChannel: []string{"all"}}, ""},
		{"static-qdq", Options{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: []string{"all"}}, calib.MinMax},
		{"static-qoperator-percentile", Options{Mode: Static, Format: QOperator, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: []string{"all"}}, calib.Percentile},
	}
	for _, model := range []string{"mlp", "cnn"} {
		fp := repoFile(t, "testdata/fmnist/"+model+".onnx")
		t.Run(model, func(t *testing.T) {
			needFile(t, fp)
			for _, c := range cases {
				if model == "cnn" && (c.name == "dynamic-per-channel" || c.name == "static-qoperator-percentile") && testing.Short() {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), model+".int8.onnx")
					req := Request{Input: fp, Output: out, Options: c.opts,
						Eval: data.Spec{Path: xTest, LabelsPath: yTest, BatchSize: 500}}
					if c.opts.Mode == Static {
						req.Calibration = data.Spec{Path: xCalib, BatchSize: 100}
						req.CalibrationOpts = CalibrationOptions{Collector: calib.Options{Method: c.method}}
					}
					rep, err := Run(context.Background(), rt, req)
					if err != nil {
						t.Fatal(err)
					}
					e := rep.Eval
					if e == nil || e.AccuracyFloat == nil {
						t.Fatal("no accuracy in the report")
					}
					worst := ""
					if len(e.Layers) > 0 {
						worst = fmt.Sprintf(", worst layer %s %.1f dB", e.Layers[0].Node, e.Layers[0].SNRdB)
					}
					t.Logf("%s %s: %v; accuracy %.2f%% -> %.2f%% (%+.2f pp), agreement %.2f%%, size %d -> %d (%.1f%%)%s",
						model, c.name, rep.NodesQuantized, 100**e.AccuracyFloat, 100**e.AccuracyQuantized, *e.AccuracyDeltaPP,
						100*e.Agreement, rep.BytesBefore, rep.BytesAfter, 100*rep.SizeRatio, worst)
					if *e.AccuracyDeltaPP < -0.3 {
						t.Errorf("accuracy drop %.2f pp > 0.3 pp", -*e.AccuracyDeltaPP)
					}
					if rep.SizeRatio > 0.30 {
						t.Errorf("quantized file is %.1f%% of fp32, want <= 30%%", 100*rep.SizeRatio)
					}
					if e.Samples != 10000 {
						t.Errorf("evaluated %d samples, want 10000", e.Samples)
					}
				})
			}
		})
	}
}
