package retrain

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
)

// Every bad input is a clear error and leaves nothing at the output path.
func TestBadInputs(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(t *testing.T, r *Request, dir string)
		want  string
		check func(t *testing.T, err error)
	}{
		{"label out of range", func(t *testing.T, r *Request, dir string) {
			_, y := blobs(200, 8, 3, 99)
			y[17] = 7
			r.Train.LabelsPath = writeNPY(t, filepath.Join(dir, "bad_y.npy"), y, 200)
		}, "row 17 has class 7, outside 0..2", nil},
		{"labels of the wrong count", func(t *testing.T, r *Request, dir string) {
			_, y := blobs(150, 8, 3, 99)
			r.Train.LabelsPath = writeNPY(t, filepath.Join(dir, "short_y.npy"), y, 150)
		}, "they must match one to one", nil},
		{"no labels", func(t *testing.T, r *Request, dir string) {
			r.Train.LabelsPath = ""
		}, "labels are required", nil},
		{"no trainable float weights", func(t *testing.T, r *Request, dir string) {
			b := newGB(onnx.Float)
			b.node("Relu", []string{b.input("x", -1, 8)}, "y")
			b.output("y", -1, 8)
			r.Model = saveModel(t, b.model(13), dir, "relu.onnx", onnx.SaveOptions{})
		}, "no trainable float weights", nil},
		{"op without a gradient", func(t *testing.T, r *Request, dir string) {
			b := newGB(onnx.Float)
			h := b.node("Gemm", []string{b.input("x", -1, 8), b.weight("w1", 0.3, 3, 8)}, "h", attrInt("transB", 1))
			p := b.node("ReduceProd", []string{h}, "prod", attrInts("axes", 1), attrInt("keepdims", 1))
			b.node("Mul", []string{h, p}, "logits")
			b.output("logits", -1, 3)
			r.Model = saveModel(t, b.model(13), dir, "prod.onnx", onnx.SaveOptions{})
		}, `ReduceProd node "prod_ReduceProd" has no gradient`, func(t *testing.T, err error) {
			var ng *NoGradientError
			if !errors.As(err, &ng) || ng.OpType != "ReduceProd" || !strings.Contains(err.Error(), "--trainable head") {
				t.Errorf("want a NoGradientError naming ReduceProd and suggesting --trainable head, got %v", err)
			}
		}},
		{"op the training backend cannot build", func(t *testing.T, r *Request, dir string) {
			b := newGB(onnx.Float)
			h := b.node("Gemm", []string{b.input("x", -1, 8), b.weight("w1", 0.3, 3, 8)}, "h", attrInt("transB", 1))
			b.node("Round", []string{h}, "logits")
			b.output("logits", -1, 3)
			r.Model = saveModel(t, b.model(13), dir, "round.onnx", onnx.SaveOptions{})
		}, `unimplemented ONNX op "Round"`, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "--trainable head") {
				t.Errorf("the message should suggest --trainable head: %v", err)
			}
		}},
		{"loss turns NaN", func(t *testing.T, r *Request, dir string) {
			r.Hyper.Optimizer, r.Hyper.LR, r.Hyper.Loss = OptSGD, 1e30, LossMSE
			b := newGB(onnx.Float)
			b.node("Gemm", []string{b.input("x", -1, 8), b.weight("w", 0.3, 1, 8)}, "out", attrInt("transB", 1))
			b.output("out", -1, 1)
			r.Model = saveModel(t, b.model(13), dir, "reg.onnx", onnx.SaveOptions{})
			x, _ := blobs(200, 8, 3, 99)
			y := make([]float32, 200)
			for i := range y {
				y[i] = x[i*8] * 3
			}
			r.Train.LabelsPath = writeNPY(t, filepath.Join(dir, "yreg.npy"), y, 200)
			r.CheckpointDir = filepath.Join(dir, "ckpt")
		}, "the training loss became", func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "at epoch 1, step") || !strings.Contains(err.Error(), "lower --lr") {
				t.Errorf("the message should say where and what to do: %v", err)
			}
		}},
		{"cross entropy on a single output", func(t *testing.T, r *Request, dir string) {
			b := newGB(onnx.Float)
			b.node("Gemm", []string{b.input("x", -1, 8), b.weight("w", 0.3, 1, 8)}, "out", attrInt("transB", 1))
			b.output("out", -1, 1)
			r.Model = saveModel(t, b.model(13), dir, "one.onnx", onnx.SaveOptions{})
		}, "needs class scores", nil},
		{"teacher logits of another width", func(t *testing.T, r *Request, dir string) {
			r.TeacherLogits = writeNPY(t, filepath.Join(dir, "t.npy"), make([]float32, 200*5), 200, 5)
		}, "teacher gives 5 logits per row but the student 3", nil},
		{"teacher logits of another row count", func(t *testing.T, r *Request, dir string) {
			r.TeacherLogits = writeNPY(t, filepath.Join(dir, "t.npy"), make([]float32, 100*3), 100, 3)
		}, "has 100 rows but the training data 200", nil},
		{"resume without checkpoint", func(t *testing.T, r *Request, dir string) {
			r.CheckpointDir, r.Resume = filepath.Join(dir, "none"), true
		}, "holds no checkpoint", nil},
		{"early stopping without validation", func(t *testing.T, r *Request, dir string) {
			r.ValSplit, r.Hyper.EarlyStopping = 0, 2
		}, "--early-stopping watches the validation loss", nil},
		{"bad optimizer", func(t *testing.T, r *Request, dir string) {
			r.Hyper.Optimizer = "lbfgs"
		}, `--optimizer "lbfgs" is not one of`, nil},
		{"alpha below 1 without labels", func(t *testing.T, r *Request, dir string) {
			r.Train.LabelsPath, r.TeacherLogits = "", filepath.Join(dir, "t.npy")
		}, "labels are required with --alpha 0.5", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, dir := tinyReq(t)
			c.edit(t, &req, dir)
			_, err := Run(context.Background(), nil, req)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if c.check != nil {
				c.check(t, err)
			}
			if _, serr := os.Stat(req.Output); !os.IsNotExist(serr) {
				t.Errorf("the output was written despite: %v", err)
			}
		})
	}
}

func TestHyperparametersByName(t *testing.T) {
	h := DefaultHyperparameters()
	for name, v := range map[string]any{"lr": "0.02", "batch_size": 16, "optimizer": "sgd", "weight-decay": 0.5, "seed": "7"} {
		if err := h.Set(name, v); err != nil {
			t.Fatalf("Set(%s): %v", name, err)
		}
	}
	if h.LR != 0.02 || h.BatchSize != 16 || h.Optimizer != OptSGD || h.WeightDecay != 0.5 || h.Seed != 7 {
		t.Fatalf("%+v", h)
	}
	if v, err := h.Get("Batch-Size"); err != nil || v != 16 {
		t.Fatalf("Get: %v %v", v, err)
	}
	if err := h.Set("epochs", 1.5); err == nil {
		t.Error("a fractional epoch count was accepted")
	}
	if err := h.Set("momentun", 0.5); err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Errorf("unknown name: %v", err)
	}
	if len(Params()) != len(h.Map()) {
		t.Errorf("Params lists %d, Map %d", len(Params()), len(h.Map()))
	}
}

func TestLearningRateSchedules(t *testing.T) {
	h := DefaultHyperparameters()
	h.LR, h.Epochs = 1, 4
	h.Warmup = 4
	if got := learningRate(&h, 0, 40, 10); got != 0.25 {
		t.Errorf("warm-up step 0: %v", got)
	}
	if got := learningRate(&h, 3, 40, 10); got != 1 {
		t.Errorf("last warm-up step: %v", got)
	}
	h.LRSchedule = ScheduleCosine
	if got := learningRate(&h, 4, 40, 10); got != 1 {
		t.Errorf("cosine start: %v", got)
	}
	if got := learningRate(&h, 22, 40, 10); got < 0.49 || got > 0.51 {
		t.Errorf("cosine midpoint: %v", got)
	}
	h.LRSchedule, h.Warmup = ScheduleStep, 0
	for step, want := range map[int]float64{0: 1, 19: 1, 20: 0.1, 29: 0.1, 30: 0.01} {
		if got := learningRate(&h, step, 40, 10); got < want*0.999 || got > want*1.001 {
			t.Errorf("step schedule at %d: %v, want %v", step, got, want)
		}
	}
}

func TestDataSpecPreprocessingReachesTraining(t *testing.T) {
	// --scale goes through the data layer: scaling inputs by 0 makes every
	// row alike and the model can only learn the class frequencies.
	req, _ := tinyReq(t)
	req.Train.Preprocess = data.Preprocess{Scale: 1e-9}
	req.Hyper.Epochs = 5
	rep, err := Run(context.Background(), nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if acc := *rep.Epochs[4].ValAccuracy; acc > 0.6 {
		t.Errorf("accuracy %.3f on inputs scaled to nothing", acc)
	}
}
