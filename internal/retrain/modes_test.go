package retrain

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// roundBody is a model whose body the training backend cannot build (Round)
// under an untrained Gemm head.
func roundBody() *onnx.Model {
	b := newGB(onnx.Float)
	h := b.node("Gemm", []string{b.input("x", -1, 8), b.weight("body.w", 0.5, 16, 8)}, "h", attrInt("transB", 1))
	h = b.node("Round", []string{b.node("Mul", []string{h, b.constant("four", 4)}, "h4")}, "hr")
	h = b.node("Relu", []string{h}, "features")
	b.node("Gemm", []string{h, b.weight("head.w", 0.01, 3, 16), b.weight("head.b", 0.01, 3)}, "logits", attrInt("transB", 1))
	b.node("Softmax", []string{"logits"}, "probs", attrInt("axis", 1))
	b.output("probs", -1, 3)
	return b.model(13)
}

func TestHeadTrainsWhereTheBodyCannot(t *testing.T) {
	rt := testutil.Runtime(t)
	req, dir := tinyReq(t)
	req.Model = saveModel(t, roundBody(), dir, "round.onnx", onnx.SaveOptions{})
	req.Hyper.Epochs, req.Hyper.LR = 5, 0.05
	if _, err := Run(context.Background(), rt, req); err == nil || !strings.Contains(err.Error(), "--trainable head") {
		t.Fatalf("the whole graph should not train here, and the error should point at --trainable head: %v", err)
	}
	req.Trainable = TrainHead
	rep, err := Run(context.Background(), rt, req)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != ModeHead || strings.Join(rep.Trainable, ",") != "head.w,head.b" || rep.Frozen != 2 {
		t.Fatalf("mode %s, trainable %v, frozen %d", rep.Mode, rep.Trainable, rep.Frozen)
	}
	first, last := *rep.Epochs[0].ValAccuracy, *rep.Epochs[len(rep.Epochs)-1].ValAccuracy
	if last < 0.9 || last < first {
		t.Errorf("head accuracy %.3f after the first epoch, %.3f after the last", first, last)
	}
	// The retrained model runs in ONNX Runtime with the new head.
	acc := ortAccuracy(t, rt, req.Output, req.Train)
	if math.Abs(acc-last) > 0.1 {
		t.Errorf("ONNX Runtime accuracy %.3f on all rows, validation %.3f", acc, last)
	}
}

// ortAccuracy is the share of rows ONNX Runtime classifies right.
func ortAccuracy(t *testing.T, rt *runtime.Runtime, path string, spec data.Spec) float64 {
	t.Helper()
	ds, err := loadDataset(context.Background(), withInputs(t, path, spec))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := rt.NewSession(path, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := sess.Outputs()[0].Name
	vals, width, err := runORT(context.Background(), sess, ds, 64, out, "test")
	if err != nil {
		t.Fatal(err)
	}
	labels := ds.Labels.Int64s()
	right := 0
	for i := 0; i < ds.Rows; i++ {
		best := 0
		for k := 1; k < width; k++ {
			if vals[i*width+k] > vals[i*width+best] {
				best = k
			}
		}
		if int64(best) == labels[i] {
			right++
		}
	}
	return float64(right) / float64(ds.Rows)
}

func withInputs(t *testing.T, path string, spec data.Spec) data.Spec {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if spec.Inputs, err = modelInputs(m); err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestDistillationWithoutLabels(t *testing.T) {
	ctx := context.Background()
	rt := testutil.Runtime(t)
	// A teacher: the tiny MLP trained on labels.
	teacherReq, dir := tinyReq(t)
	teacherReq.Hyper.Epochs = 8
	teacherReq.Output = filepath.Join(dir, "teacher.onnx")
	trep, err := Run(ctx, nil, teacherReq)
	if err != nil {
		t.Fatal(err)
	}
	teacherAcc := *trep.Epochs[len(trep.Epochs)-1].ValAccuracy
	// The student starts afresh and sees no labels at all; validation
	// accuracy is measured against the held-out labels.
	req := teacherReq
	req.Output = filepath.Join(dir, "student.onnx")
	req.Teacher, req.Reinit = teacherReq.Output, true
	req.Hyper.Alpha, req.Hyper.Temperature, req.Hyper.Epochs = 1, 4, 8
	req.Train.LabelsPath = ""
	req.ValSplit = 0
	x, y := blobs(100, 8, 3, 99) // the teacher's problem, other rows
	x, y = x[:0:0], y[:0:0]
	xa, ya := blobs(300, 8, 3, 99)
	x, y = append(x, xa[200*8:]...), append(y, ya[200:]...)
	vx, vy := writeNPY(t, filepath.Join(dir, "vx.npy"), x, 100, 8), writeNPY(t, filepath.Join(dir, "vy.npy"), y, 100)
	req.Val = &data.Spec{Path: vx, LabelsPath: vy}
	rep, err := Run(ctx, rt, req)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Distilled || rep.Epochs[0].ValLoss == nil {
		t.Fatalf("report %+v", rep)
	}
	got := *rep.Epochs[len(rep.Epochs)-1].ValAccuracy
	t.Logf("teacher %.3f (own split), student %.3f on fresh rows", teacherAcc, got)
	if got < 0.85 {
		t.Errorf("a student distilled without labels reached only %.3f", got)
	}
}

func TestUpdateBNStats(t *testing.T) {
	b := newGB(onnx.Float)
	x := b.input("x", -1, 2, 3, 3)
	h := b.node("BatchNormalization", []string{x, b.constant("bn.scale", 1, 2), b.constant("bn.bias", 0, 2),
		b.constant("bn.mean", 0.5, 2), b.constant("bn.var", 2, 2)}, "bn", attrFloat("epsilon", 1e-5), attrFloat("momentum", 0.9))
	h = b.node("Flatten", []string{h}, "flat", attrInt("axis", 1))
	b.node("Gemm", []string{h, b.weight("fc.w", 0.1, 3, 18)}, "logits", attrInt("transB", 1))
	b.output("logits", -1, 3)
	dir := t.TempDir()
	model := saveModel(t, b.model(13), dir, "bn.onnx", onnx.SaveOptions{})
	rows := 40
	xv, y := blobs(rows, 18, 3, 3)
	xs := writeNPY(t, filepath.Join(dir, "x.npy"), xv, rows, 2, 3, 3)
	ys := writeNPY(t, filepath.Join(dir, "y.npy"), y, rows)
	h0 := DefaultHyperparameters()
	h0.BatchSize, h0.Optimizer, h0.LR = rows, OptSGD, 1e-9
	for _, update := range []bool{false, true} {
		out := filepath.Join(dir, "out.onnx")
		if update {
			out = filepath.Join(dir, "out_bn.onnx")
		}
		_, err := Run(context.Background(), nil, Request{Model: model, Output: out, Hyper: h0, UpdateBNStats: update,
			Train: data.Spec{Path: xs, LabelsPath: ys}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		mean, _ := onnx.Float32s(m, m.Graph().Initializer("bn.mean"))
		vr, _ := onnx.Float32s(m, m.Graph().Initializer("bn.var"))
		m.Close()
		for c := 0; c < 2; c++ {
			wantM, wantV := 0.5, 2.0
			if update {
				// One step over the whole batch: running = 0.9·old + 0.1·batch
				// (unbiased variance), as torch does.
				var s, ss float64
				n := 0
				for r := 0; r < rows; r++ {
					for i := 0; i < 9; i++ {
						v := float64(xv[r*18+c*9+i])
						s += v
						ss += v * v
						n++
					}
				}
				bm := s / float64(n)
				bv := (ss - float64(n)*bm*bm) / float64(n-1)
				wantM, wantV = 0.9*0.5+0.1*bm, 0.9*2+0.1*bv
			}
			if math.Abs(float64(mean[c])-wantM) > 1e-4 || math.Abs(float64(vr[c])-wantV) > 1e-3 {
				t.Errorf("update=%v channel %d: running mean %v var %v, want %v %v", update, c, mean[c], vr[c], wantM, wantV)
			}
		}
	}
}

// TestTeacherLogitsFile distils from precomputed logits, with no ONNX
// Runtime at all: logits that put all weight on the true class teach the
// labels to a student that never sees them.
func TestTeacherLogitsFile(t *testing.T) {
	req, dir := tinyReq(t)
	_, y := blobs(200, 8, 3, 99)
	logits := make([]float32, 200*3)
	for i, c := range y {
		logits[i*3+int(c)] = 5
	}
	req.TeacherLogits = writeNPY(t, filepath.Join(dir, "t.npy"), logits, 200, 3)
	req.Train.LabelsPath = ""
	req.Hyper.Alpha, req.Hyper.Epochs, req.Reinit = 1, 6, true
	req.ValSplit = 0
	x, yv := blobs(300, 8, 3, 99)
	req.Val = &data.Spec{Path: writeNPY(t, filepath.Join(dir, "vx.npy"), x[200*8:], 100, 8), LabelsPath: writeNPY(t, filepath.Join(dir, "vy.npy"), yv[200:], 100)}
	rep, err := Run(context.Background(), nil, req)
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Epochs[len(rep.Epochs)-1]
	if last.ValLoss != nil {
		t.Errorf("validation rows have no teacher logits, so no loss; got %v", *last.ValLoss)
	}
	if *last.ValAccuracy < 0.85 {
		t.Errorf("student accuracy %.3f", *last.ValAccuracy)
	}
}
