package retrain

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// tinyMLP is x[B,8] → Gemm → Relu → Gemm → logits[B,3].
func tinyMLP(elem onnx.DataType) *onnx.Model {
	b := newGB(elem)
	x := b.input("x", -1, 8)
	h := b.node("Gemm", []string{x, b.weight("fc1.weight", 0.3, 16, 8), b.weight("fc1.bias", 0.1, 16)}, "h", attrInt("transB", 1))
	h = b.node("Relu", []string{h}, "hr")
	b.node("Gemm", []string{h, b.weight("fc2.weight", 0.3, 3, 16), b.weight("fc2.bias", 0.1, 3)}, "logits", attrInt("transB", 1))
	b.output("logits", -1, 3)
	return b.model(13)
}

// blobFiles writes a seeded 3-class problem as x.npy/y.npy into dir.
func blobFiles(t *testing.T, dir string, rows int, seed uint64) (string, string) {
	x, y := blobs(rows, 8, 3, 99)
	if seed != 99 {
		x, y = blobs(rows, 8, 3, seed)
	}
	return writeNPY(t, filepath.Join(dir, "x.npy"), x, rows, 8), writeNPY(t, filepath.Join(dir, "y.npy"), y, rows)
}

func tinyReq(t *testing.T) (Request, string) {
	t.Helper()
	dir := t.TempDir()
	model := saveModel(t, tinyMLP(onnx.Float), dir, "mlp.onnx", onnx.SaveOptions{})
	x, y := blobFiles(t, dir, 200, 99)
	h := DefaultHyperparameters()
	h.BatchSize, h.Epochs, h.LR = 32, 3, 0.01
	return Request{Model: model, Output: filepath.Join(dir, "out.onnx"), Train: data.Spec{Path: x, LabelsPath: y}, ValSplit: 0.2, Hyper: h}, dir
}

func TestResumeIsBitIdentical(t *testing.T) {
	for _, opt := range []string{OptMomentum, OptAdamW} {
		t.Run(opt, func(t *testing.T) {
			ctx := context.Background()
			req, dir := tinyReq(t)
			req.Hyper.Optimizer, req.Hyper.WeightDecay, req.Hyper.LRSchedule = opt, 0.01, ScheduleCosine
			straight := req
			straight.Output = filepath.Join(dir, "straight.onnx")
			if _, err := Run(ctx, nil, straight); err != nil {
				t.Fatal(err)
			}
			part := req
			part.CheckpointDir = filepath.Join(dir, "ckpt")
			// The first run stops after epoch 2 through the callback, as a
			// Ctrl-C after that epoch would.
			part.OnEpoch = func(es EpochStats) error {
				if es.Epoch == 2 {
					return ErrStop
				}
				return nil
			}
			part.Output = filepath.Join(dir, "part.onnx")
			rep, err := Run(ctx, nil, part)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stopped != "callback" || len(rep.Epochs) != 2 {
				t.Fatalf("stopped %q after %d epochs", rep.Stopped, len(rep.Epochs))
			}
			resumed := req
			resumed.CheckpointDir, resumed.Resume = part.CheckpointDir, true
			resumed.Output = filepath.Join(dir, "resumed.onnx")
			rep, err = Run(ctx, nil, resumed)
			if err != nil {
				t.Fatal(err)
			}
			if rep.ResumedFrom != 2 || len(rep.Epochs) != 3 {
				t.Fatalf("resumed from %d with %d epochs", rep.ResumedFrom, len(rep.Epochs))
			}
			a, _ := os.ReadFile(straight.Output)
			b, _ := os.ReadFile(resumed.Output)
			if !bytes.Equal(a, b) {
				t.Fatal("resuming from a checkpoint gave other weights than training straight through")
			}
			// A changed recipe must not resume silently.
			other := resumed
			other.Hyper.LR = 0.02
			other.Hyper.Epochs = 4
			if _, err := Run(ctx, nil, other); err == nil || !strings.Contains(err.Error(), "another model, data or recipe") {
				t.Fatalf("resume with another lr: %v", err)
			}
		})
	}
}

func TestCancelKeepsLastCheckpoint(t *testing.T) {
	req, dir := tinyReq(t)
	req.CheckpointDir = filepath.Join(dir, "ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req.OnStep = func(epoch, step, steps int, loss float64) {
		if epoch == 2 && step == 2 {
			cancel()
		}
	}
	_, err := Run(ctx, nil, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation, got %v", err)
	}
	if _, err := os.Stat(req.Output); !os.IsNotExist(err) {
		t.Fatalf("the output exists after a cancelled run: %v", err)
	}
	c := &checkpointer{dir: req.CheckpointDir}
	meta, err := c.read()
	if err != nil || meta.Epoch != 1 {
		t.Fatalf("checkpoint %+v, %v", meta, err)
	}
	if _, err := onnx.Load(filepath.Join(req.CheckpointDir, meta.Model)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(req.CheckpointDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left in the checkpoint folder", e.Name())
		}
	}
}

// TestOnlyInitializerValuesChange: nodes, names, opsets, metadata and the
// external-data layout of the input are those of the output.
func TestOnlyInitializerValuesChange(t *testing.T) {
	for _, external := range []bool{false, true} {
		t.Run(map[bool]string{false: "inline", true: "external"}[external], func(t *testing.T) {
			req, dir := tinyReq(t)
			req.Hyper.Epochs = 1
			if external {
				m, err := onnx.Load(req.Model)
				if err != nil {
					t.Fatal(err)
				}
				req.Model = saveModel(t, m, dir, "ext.onnx", onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: 64})
			}
			if _, err := Run(context.Background(), nil, req); err != nil {
				t.Fatal(err)
			}
			in, err := onnx.Load(req.Model)
			if err != nil {
				t.Fatal(err)
			}
			out, err := onnx.Load(req.Output)
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for i, ti := range in.Proto.Graph.Initializer {
				to := out.Proto.Graph.Initializer[i]
				if onnx.IsExternal(ti) != onnx.IsExternal(to) {
					t.Errorf("initializer %s: external %v became %v", ti.GetName(), onnx.IsExternal(ti), onnx.IsExternal(to))
				}
				a, _ := onnx.Float32s(in, ti)
				b, _ := onnx.Float32s(out, to)
				if !slicesEqual(a, b) {
					changed++
				}
			}
			if changed != 4 {
				t.Errorf("%d of 4 initializers changed", changed)
			}
			strip := func(m *onnx.Model) *onnxpb.ModelProto {
				p := proto.Clone(m.Proto).(*onnxpb.ModelProto)
				for _, t := range p.Graph.Initializer {
					t.RawData, t.FloatData, t.ExternalData, t.DataLocation = nil, nil, nil, nil
				}
				return p
			}
			if !proto.Equal(strip(in), strip(out)) {
				t.Error("the output differs from the input in more than initializer values")
			}
			if external {
				if _, err := os.Stat(req.Output + ".data"); err != nil {
					t.Errorf("no external data file next to the output: %v", err)
				}
			}
		})
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrainableSelection(t *testing.T) {
	m := tinyMLP(onnx.Float)
	sel, err := selectTrainable(m, "fc2\\..*")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sel.names, ",") != "fc2.weight,fc2.bias" || sel.frozen != 2 {
		t.Fatalf("selected %v, %d frozen", sel.names, sel.frozen)
	}
	if _, err := selectTrainable(m, "nothing"); err == nil || !strings.Contains(err.Error(), "matches no trainable") {
		t.Fatalf("unmatched pattern: %v", err)
	}
	if _, err := selectTrainable(m, "(["); err == nil || !strings.Contains(err.Error(), "regular expression") {
		t.Fatalf("bad pattern: %v", err)
	}
}
