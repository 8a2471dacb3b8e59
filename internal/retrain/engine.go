package retrain

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gonnx "github.com/gomlx/onnx-gomlx/onnx"

	"github.com/mlops-dev/mlops/internal/data"
)

// forwardFn builds the model's loss tensor (logits) from the batch inputs.
// train is set in the training step (BatchNormalization may then use batch
// statistics and update its running ones).
type forwardFn func(scope *model.Scope, ins []*Node, train bool) *Node

// engine runs training steps and evaluations of one model in gomlx: the
// trainable variables' gradients come from gomlx's autodiff and the
// optimizer runs in the same compiled step. The whole ONNX graph (fullModel)
// and the head-only layer (headModel) differ only in their forwardFn.
type engine struct {
	be      compute.Backend
	store   *model.Store
	nInputs int
	fwd     forwardFn
	names   []string // trainable initializers, written back after training
	vars    []*model.Variable
	opt     *optimizer
	loss    lossSpec
	labels  bool // batches carry labels
	teacher bool // batches carry teacher logits
	step    *model.Exec
	eval    *model.Exec
}

// varPath is where onnx-gomlx keeps an initializer in the store.
func varPath(onnxName string) string {
	return "/" + gonnx.ModelScope + "/" + strings.ReplaceAll(onnxName, model.ScopeSeparator, "|")
}

// newEngine prepares the step and evaluation executables of fwd over the
// variables in store (compiled on first use). Graph functions find their
// variables through the scope they are given, never a captured store, so the
// same function also builds on a copy of the store (see checkStep).
func newEngine(be compute.Backend, store *model.Store, nInputs int, fwd forwardFn, names []string,
	h *Hyperparameters, loss lossSpec, labels, teacher bool) (*engine, error) {
	e := &engine{be: be, store: store, nInputs: nInputs, fwd: fwd, names: names, loss: loss, labels: labels, teacher: teacher}
	for _, n := range names {
		v := store.GetVariable(varPath(n))
		if v == nil {
			return nil, fmt.Errorf("initializer %q is missing from the training graph", n)
		}
		e.vars = append(e.vars, v)
	}
	var err error
	if e.opt, err = newOptimizer(store, h, e.vars); err != nil {
		return nil, err
	}
	e.step, err = model.NewExec(be, store, e.stepGraph)
	if err != nil {
		return nil, fmt.Errorf("training step: %w", err)
	}
	e.eval, err = model.NewExec(be, store, e.evalGraph)
	if err != nil {
		return nil, fmt.Errorf("evaluation step: %w", err)
	}
	// A run sees two batch sizes (full batches and the last one), a few
	// more with validation data.
	e.step.SetMaxCache(8)
	e.eval.SetMaxCache(8)
	return e, nil
}

// fullModel is the forward pass of the whole ONNX graph. gm is the model as
// given (evaluation); gmTrain its training form, which differs only when
// BatchNormalization statistics are updated.
func fullModel(gm, gmTrain gonnx.Model, inputs []string, outName string, bn *bnTraining) forwardFn {
	return func(scope *model.Scope, ins []*Node, train bool) *Node {
		feeds := make(map[string]*Node, len(inputs))
		for i, name := range inputs {
			feeds[name] = ins[i]
		}
		names := []string{outName}
		m := gm
		if train && bn != nil {
			m = gmTrain
			names = append(names, bn.outputs()...)
		}
		outs := m.CallGraph(scope, ins[0].Graph(), feeds, names...)
		if train && bn != nil {
			bn.update(scope.Store(), ins[0].Graph(), outs[1:])
		}
		return outs[0]
	}
}

// loadStore puts gm's initializers into a fresh store. Fusion is disabled:
// fused ops merge initializers that must be written back one by one.
func loadStore(gms ...gonnx.Model) (*model.Store, error) {
	store := model.NewStore()
	for _, gm := range gms {
		gm.DisableFusion()
	}
	// The last model is the training form, with every initializer of the others.
	gm := gms[len(gms)-1]
	if err := catch(func() error { return gm.VariablesToScope(store.RootScope()) }); err != nil {
		return nil, fmt.Errorf("load weights into the training graph: %w", err)
	}
	return store, nil
}

// extra returns the label and teacher nodes that follow the model inputs.
func (e *engine) extra(ins []*Node) (labels, teacher *Node, rest []*Node) {
	i := e.nInputs
	if e.labels {
		labels = ins[i]
		i++
	}
	if e.teacher {
		teacher = ins[i]
		i++
	}
	return labels, teacher, ins[i:]
}

// stepGraph: inputs, [labels], [teacher], lr, bc1, bc2 → mean loss; the
// variables are updated in place.
func (e *engine) stepGraph(scope *model.Scope, ins []*Node) []*Node {
	out := e.fwd(scope, ins, true)
	labels, teacher, sc := e.extra(ins)
	loss := ReduceAllMean(e.loss.rowLoss(out, labels, teacher))
	// Variables come from the scope's store: the pre-flight build runs on a copy.
	store := scope.Store()
	vars := make([]*model.Variable, len(e.vars))
	weights := make([]*Node, len(e.vars))
	for i, v := range e.vars {
		vars[i] = store.GetVariable(v.Path())
		weights[i] = vars[i].NodeValue(out.Graph())
	}
	grads := Gradient(loss, weights...)
	e.opt.update(store, vars, weights, grads, sc[0], sc[1], sc[2])
	return []*Node{loss}
}

// evalGraph: inputs [, labels] [, teacher] → model output and, when labels
// and teacher logits (as the loss needs them) are given, the per-row loss.
func (e *engine) evalGraph(scope *model.Scope, ins []*Node) []*Node {
	out := e.fwd(scope, ins, false)
	if len(ins) == e.nInputs {
		return []*Node{out}
	}
	labels, teacher, _ := e.extra(ins)
	return []*Node{out, e.loss.rowLoss(out, labels, teacher)}
}

// batchArgs turns rows of ds into executable arguments.
func batchArgs(ds *dataset, idx []int, labels, teacher bool) ([]any, error) {
	var args []any
	for ci, b := range ds.batchRows(idx) {
		c := ds.Columns[ci]
		dims := append([]int{len(idx)}, intDims(c.RowShape)...)
		t, err := tensorFromBytes(c.DType, dims, b)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", c.Name, err)
		}
		args = append(args, t)
	}
	if labels {
		dims := append([]int{len(idx)}, intDims(ds.Labels.Shape[1:])...)
		t, err := tensorFromBytes(ds.Labels.DType, dims, ds.labelRows(idx))
		if err != nil {
			return nil, err
		}
		args = append(args, t)
	}
	if teacher {
		args = append(args, tensors.FromFlatDataAndDimensions(ds.teacherRows(idx), len(idx), ds.k))
	}
	return args, nil
}

func intDims(d []int64) []int {
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out
}

// gomlxDType maps the data layer's element types.
func gomlxDType(d data.DType) (dtypes.DType, error) {
	switch d {
	case data.Float32:
		return dtypes.Float32, nil
	case data.Float64:
		return dtypes.Float64, nil
	case data.Int8:
		return dtypes.Int8, nil
	case data.Int16:
		return dtypes.Int16, nil
	case data.Int32:
		return dtypes.Int32, nil
	case data.Int64:
		return dtypes.Int64, nil
	case data.Uint8:
		return dtypes.Uint8, nil
	case data.Uint16:
		return dtypes.Uint16, nil
	case data.Uint32:
		return dtypes.Uint32, nil
	case data.Uint64:
		return dtypes.Uint64, nil
	case data.Bool:
		return dtypes.Bool, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("element type %s cannot be fed to the training graph", d)
}

// tensorFromBytes copies little-endian element bytes into a new tensor.
func tensorFromBytes(d data.DType, dims []int, b []byte) (*tensors.Tensor, error) {
	dt, err := gomlxDType(d)
	if err != nil {
		return nil, err
	}
	t := tensors.FromShape(shapes.Make(dt, dims...))
	if err := t.MutableBytes(func(dst []byte) {
		copy(dst, b)
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// scalars are the per-step inputs of the step graph.
func stepScalars(lr float64, t int) []any {
	bc1, bc2 := biasCorrections(t)
	return []any{float32(lr), float32(bc1), float32(bc2)}
}

// scalarValue reads a float scalar tensor.
func scalarValue(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// catch turns a panic of graph construction (gomlx and onnx-gomlx report
// errors by panicking) into an error.
func catch(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	return fn()
}

// checkStep builds and compiles the training step on a copy of the store,
// before the first real step: gomlx hands variables' buffers over when a
// step is prepared, so preparing on the real store would lose them.
func (e *engine) checkStep(args []any) error {
	clone, err := e.store.Clone()
	if err != nil {
		return err
	}
	ex, err := model.NewExec(e.be, clone, e.stepGraph)
	if err != nil {
		return err
	}
	defer ex.Finalize()
	return catch(func() error { return ex.PreCompile(args...) })
}
