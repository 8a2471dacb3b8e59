package retrain

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// TestMiniLMSizeEncoderTrains runs two optimizer steps (one row each) on the MiniLM-size
// encoder of testmodels (6 layers of MatMul, Transpose, Softmax,
// LayerNormalization, Relu, residual Adds; 10.6 M parameters): the graph
// builds, every weight gets a gradient and the loss goes down.
func TestMiniLMSizeEncoderTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of training at full size")
	}
	m, err := testmodels.Encoder(true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := saveModel(t, m, dir, "encoder.onnx", onnx.SaveOptions{})
	x := testmodels.EncoderInput(2)
	y := make([]float32, len(x)) // regress the encoder onto zeros
	per := testmodels.EncoderSeq * testmodels.EncoderHidden
	xs := writeNPY(t, filepath.Join(dir, "x.npy"), x, 2, testmodels.EncoderSeq, testmodels.EncoderHidden)
	ys := writeNPY(t, filepath.Join(dir, "y.npy"), y, 2, per)
	h := DefaultHyperparameters()
	h.Loss, h.BatchSize, h.Epochs, h.LR, h.Optimizer = LossMSE, 1, 1, 1e-2, OptSGD
	var losses []float64
	rep, err := Run(context.Background(), nil, Request{Model: path, Output: filepath.Join(dir, "out.onnx"), Hyper: h,
		Train:  data.Spec{Path: xs, LabelsPath: ys},
		OnStep: func(_, _, _ int, loss float64) { losses = append(losses, loss) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrainableParams < 10_000_000 || len(losses) != 2 || !(losses[1] < losses[0]) {
		t.Fatalf("%d parameters, losses %v", rep.TrainableParams, losses)
	}
}
