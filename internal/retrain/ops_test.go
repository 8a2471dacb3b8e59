package retrain

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// opModels are small float64 graphs, one per family of ops the issue
// names, each ending in class logits [B,3].
func opModels(elem onnx.DataType) map[string]func() (*onnx.Model, []int64) {
	return map[string]func() (*onnx.Model, []int64){
		"dense": func() (*onnx.Model, []int64) { // Gemm MatMul Add Gelu Tanh Sigmoid Mul Softmax
			b := newGB(elem)
			x := b.input("x", -1, 6)
			h := b.node("Gemm", []string{x, b.weight("g.w", 0.4, 5, 6), b.weight("g.b", 0.1, 5)}, "h1", attrInt("transB", 1))
			h = b.node("Gelu", []string{h}, "h2")
			h = b.node("Add", []string{b.node("MatMul", []string{h, b.weight("m.w", 0.4, 5, 5)}, "h3"), b.weight("m.b", 0.1, 5)}, "h4")
			h = b.node("Mul", []string{b.node("Tanh", []string{h}, "h5"), b.node("Sigmoid", []string{h}, "h6")}, "h7")
			h = b.node("Gemm", []string{h, b.weight("o.w", 0.4, 5, 3), b.weight("o.b", 0.1, 3)}, "h8")
			b.node("Softmax", []string{h}, "probs", attrInt("axis", -1))
			b.output("probs", -1, 3)
			return b.model(20), []int64{6}
		},
		"conv": func() (*onnx.Model, []int64) { // Conv BatchNormalization Relu AveragePool Flatten Reshape
			b := newGB(elem)
			x := b.input("x", -1, 1, 6, 6)
			h := b.node("Conv", []string{x, b.weight("c.w", 0.4, 2, 1, 3, 3), b.weight("c.b", 0.1, 2)}, "c1",
				attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1))
			h = b.node("BatchNormalization", []string{h, b.weight("bn.scale", 0.3, 2), b.weight("bn.bias", 0.1, 2),
				b.constant("bn.mean", 0.05, 2), b.constant("bn.var", 1.5, 2)}, "bn", attrFloat("epsilon", 1e-5))
			h = b.node("Relu", []string{h}, "r1")
			h = b.node("AveragePool", []string{h}, "p1", attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2))
			h = b.node("Flatten", []string{h}, "f1", attrInt("axis", 1))
			h = b.node("Reshape", []string{h, b.ints("shape", -1, 18)}, "f2")
			b.node("Gemm", []string{h, b.weight("fc.w", 0.4, 3, 18), b.weight("fc.b", 0.1, 3)}, "logits", attrInt("transB", 1))
			b.output("logits", -1, 3)
			return b.model(13), []int64{1, 6, 6}
		},
		"maxpool": func() (*onnx.Model, []int64) { // Conv MaxPool
			b := newGB(elem)
			x := b.input("x", -1, 1, 6, 6)
			h := b.node("Conv", []string{x, b.weight("c.w", 0.4, 2, 1, 3, 3)}, "c1", attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1))
			h = b.node("MaxPool", []string{h}, "p1", attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2))
			h = b.node("Flatten", []string{h}, "f1", attrInt("axis", 1))
			b.node("Gemm", []string{h, b.weight("fc.w", 0.4, 3, 18)}, "logits", attrInt("transB", 1))
			b.output("logits", -1, 3)
			return b.model(13), []int64{1, 6, 6}
		},
		"conv strided dilated": func() (*onnx.Model, []int64) { // Conv with strides, dilations, groups, asymmetric pads
			b := newGB(elem)
			x := b.input("x", -1, 2, 9, 9)
			h := b.node("Conv", []string{x, b.weight("c.w", 0.4, 4, 1, 3, 3), b.weight("c.b", 0.1, 4)}, "c1",
				attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2), attrInts("dilations", 2, 2),
				attrInts("pads", 1, 0, 2, 1), attrInt("group", 2))
			h = b.node("Relu", []string{h}, "r1")
			h = b.node("Flatten", []string{h}, "f1", attrInt("axis", 1))
			b.node("Gemm", []string{h, b.weight("fc.w", 0.4, 3, 48), b.weight("fc.b", 0.1, 3)}, "logits", attrInt("transB", 1))
			b.output("logits", -1, 3)
			return b.model(13), []int64{2, 9, 9}
		},
		"encoder": func() (*onnx.Model, []int64) { // the ops of a transformer encoder block
			b := newGB(elem)
			x := b.input("x", -1, 4, 8)
			lin := func(in, p string, n, m int64) string {
				return b.node("Add", []string{b.node("MatMul", []string{in, b.weight(p+".w", 0.3, n, m)}, p+"_mm"), b.weight(p+".b", 0.1, m)}, p+"_out")
			}
			q, k, v := lin(x, "q", 8, 8), lin(x, "k", 8, 8), lin(x, "v", 8, 8)
			kt := b.node("Transpose", []string{k}, "kt", attrInts("perm", 0, 2, 1))
			s := b.node("Mul", []string{b.node("MatMul", []string{q, kt}, "scores"), b.constant("scale", 0.35)}, "scaled")
			a := b.node("Softmax", []string{s}, "attn", attrInt("axis", -1))
			c := lin(b.node("MatMul", []string{a, v}, "ctx"), "o", 8, 8)
			h := b.node("LayerNormalization", []string{b.node("Add", []string{x, c}, "res1"), b.weight("ln1.g", 0.2, 8), b.weight("ln1.b", 0.1, 8)}, "ln1", attrInt("axis", -1))
			f := lin(b.node("Relu", []string{lin(h, "ff1", 8, 16)}, "ffr"), "ff2", 16, 8)
			h = b.node("LayerNormalization", []string{b.node("Add", []string{h, f}, "res2"), b.weight("ln2.g", 0.2, 8), b.weight("ln2.b", 0.1, 8)}, "ln2", attrInt("axis", -1))
			h = b.node("ReduceMean", []string{h}, "pool", attrInts("axes", 1), attrInt("keepdims", 0))
			b.node("Gemm", []string{h, b.weight("cls.w", 0.3, 3, 8), b.weight("cls.b", 0.1, 3)}, "logits", attrInt("transB", 1))
			b.output("logits", -1, 3)
			return b.model(17), []int64{4, 8}
		},
	}
}

// TestOpGradients compares the backend's gradients with central finite
// differences for every op family, in float64.
func TestOpGradients(t *testing.T) {
	for name, build := range opModels(onnx.Double) {
		t.Run(name, func(t *testing.T) {
			checkGradients(t, preparedOpRun(t, build))
		})
	}
}

// TestOpForwardMatchesONNXRuntime compares the backend's forward pass (after
// the rewrites of differentiable) with ONNX Runtime's on the original model,
// in float32 (ONNX Runtime's CPU Conv has no float64 kernel).
func TestOpForwardMatchesONNXRuntime(t *testing.T) {
	rt := testutil.Runtime(t)
	for name, build := range opModels(onnx.Float) {
		t.Run(name, func(t *testing.T) {
			checkForward(t, rt, preparedOpRun(t, build))
		})
	}
}

func preparedOpRun(t *testing.T, build func() (*onnx.Model, []int64)) *run {
	t.Helper()
	m, rowShape := build()
	r := opRun(t, m, rowShape)
	err := r.prepare(context.Background())
	if err == nil {
		err = r.precompile()
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkForward compares the backend's output on the training rows with ONNX
// Runtime's on the model file.
func checkForward(t *testing.T, rt *runtime.Runtime, r *run) {
	t.Helper()
	idx := make([]int, r.train.Rows)
	for i := range idx {
		idx[i] = i
	}
	out, _, err := r.evaluate(r.train, idx)
	if err != nil {
		t.Fatal(err)
	}
	got := floats64(out)
	if _, _, probs, err := lossOutput(r.src, r.req.Hyper.Loss); err != nil {
		t.Fatal(err)
	} else if probs { // the backend's output is the final Softmax's input
		softmaxRows(got, len(got)/len(idx))
	}
	sess, err := rt.NewSession(r.req.Model, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	want, _, err := runORT(context.Background(), sess, r.train, len(idx), sess.Outputs()[0].Name, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("backend gives %d values, ONNX Runtime %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - float64(want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("output[%d]: backend %.8g, ONNX Runtime %.8g", i, got[i], want[i])
		}
	}
}

func opRun(t *testing.T, m *onnx.Model, rowShape []int64) *run {
	t.Helper()
	dir := t.TempDir()
	path := saveModel(t, m, dir, "m.onnx", onnx.SaveOptions{})
	per := int64(1)
	for _, d := range rowShape {
		per *= d
	}
	rows := 8
	x, _ := blobs(rows*int(per), 1, 1, 5)
	_, y := blobs(rows, 1, 3, 6)
	shape := append([]int{rows}, intDims(rowShape)...)
	xs := writeNPY(t, filepath.Join(dir, "x.npy"), x, shape...)
	ys := writeNPY(t, filepath.Join(dir, "y.npy"), y, rows)
	h := DefaultHyperparameters()
	h.BatchSize = rows
	req := &Request{Model: path, Train: data.Spec{Path: xs, LabelsPath: ys}, Hyper: h, Trainable: TrainAll}
	src, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	be, err := defaultBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{req: req, src: src, be: be, report: &Report{},
		loss: lossSpec{kind: LossCrossEntropy, labels: true}}
	return r
}

// checkGradients compares d(mean loss)/dw for a few coordinates of every
// trainable weight with (L(w+ε) − L(w−ε)) / 2ε.
func checkGradients(t *testing.T, r *run) {
	e := r.eng
	idx := make([]int, r.train.Rows)
	for i := range idx {
		idx[i] = i
	}
	args, err := batchArgs(r.train, idx, true, false)
	if err != nil {
		t.Fatal(err)
	}
	gradExec, err := model.NewExec(e.be, e.store, func(scope *model.Scope, ins []*Node) []*Node {
		out := e.fwd(scope, ins, false)
		loss := ReduceAllMean(e.loss.rowLoss(out, ins[1], nil))
		var ws []*Node
		for _, v := range e.vars {
			ws = append(ws, scope.Store().GetVariable(v.Path()).NodeValue(out.Graph()))
		}
		return Gradient(loss, ws...)
	})
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gradExec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func() float64 {
		_, rl, err := r.evaluate(r.train, idx)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, v := range floats64(rl) {
			s += v
		}
		return s / float64(len(idx))
	}
	const eps = 1e-6
	for i, v := range e.vars {
		g := floats64(grads[i])
		w := tensors.MustCopyFlatData[float64](mustValue(t, v))
		for _, j := range []int{0, len(w) / 2, len(w) - 1} {
			orig := w[j]
			w[j] = orig + eps
			setFlat(t, r, v.Path(), w)
			up := lossAt()
			w[j] = orig - eps
			setFlat(t, r, v.Path(), w)
			down := lossAt()
			w[j] = orig
			setFlat(t, r, v.Path(), w)
			num := (up - down) / (2 * eps)
			if diff := math.Abs(num - g[j]); diff > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("%s[%d]: gradient %.8g, finite difference %.8g", e.names[i], j, g[j], num)
			}
		}
	}
}

func mustValue(t *testing.T, v *model.Variable) *tensors.Tensor {
	t.Helper()
	x, err := v.Value()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func setFlat(t *testing.T, r *run, path string, w []float64) {
	t.Helper()
	v := r.eng.store.GetVariable(path)
	if err := v.SetValue(tensors.FromFlatDataAndDimensions(append([]float64(nil), w...), v.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
}

func softmaxRows(v []float64, width int) {
	for r := 0; r+width <= len(v); r += width {
		row := v[r : r+width]
		top := row[0]
		for _, x := range row {
			top = math.Max(top, x)
		}
		var sum float64
		for i, x := range row {
			row[i] = math.Exp(x - top)
			sum += row[i]
		}
		for i := range row {
			row[i] /= sum
		}
	}
}
