package retrain

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gonnx "github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
)

// fullGraph is what the whole-graph mode keeps for diagnosing a step that
// does not build.
type fullGraph struct {
	gm      gonnx.Model
	src     *onnx.Model // the graph gm was built from
	inputs  []string
	outName string
}

// prepareFull builds the engine over the whole ONNX graph.
func (r *run) prepareFull(inputs []data.InputInfo) error {
	sel, err := selectTrainable(r.src, r.req.Trainable)
	if err != nil {
		return err
	}
	outName, _, _, err := lossOutput(r.src, r.req.Hyper.Loss)
	if err != nil {
		return err
	}
	// The backend sees a copy with gradient-less ops rewritten; the model
	// written back is r.src.
	diff := differentiable(r.src)
	gm, err := parseGoMLX(diff)
	if err != nil {
		return err
	}
	gmTrain := gm
	var bn *bnTraining
	if r.req.UpdateBNStats && len(sel.bnStats) > 0 {
		rewritten, b, err := rewriteBatchNorm(diff, sel.bnStats)
		if err != nil {
			return err
		}
		if gmTrain, err = parseGoMLX(rewritten); err != nil {
			return err
		}
		bn = b
	}
	store, err := loadStore(gm, gmTrain)
	if err != nil {
		return err
	}
	if bn != nil {
		if err := bn.bind(store); err != nil {
			return err
		}
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	r.mode, r.report.Mode = ModeFull, ModeFull
	r.report.Frozen = sel.frozen
	r.write = append([]string(nil), sel.names...)
	if bn != nil {
		r.bn = sel.bnStats
		for _, st := range sel.bnStats {
			r.write = append(r.write, st.mean, st.vr)
		}
	}
	r.full = &fullGraph{gm: gm, src: diff, inputs: names, outName: outName}
	r.eng, err = newEngine(r.be, store, len(inputs), fullModel(gm, gmTrain, names, outName, bn), sel.names,
		&r.req.Hyper, r.loss, r.loss.labels, r.loss.distill && r.loss.alpha > 0)
	return err
}

// parseGoMLX hands the model to onnx-gomlx. External data resolves against
// the model's own folder.
func parseGoMLX(m *onnx.Model) (gonnx.Model, error) {
	raw, err := m.Encode()
	if err != nil {
		return nil, err
	}
	var gm gonnx.Model
	err = catch(func() error {
		var e error
		gm, e = parser.Parse(raw)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("the training backend cannot read the model: %w", err)
	}
	dir := m.Dir
	if dir == "" {
		dir = "."
	}
	return gm.WithBaseDir(filepath.Clean(dir)), nil
}

// diagnose names the op whose gradient failed, when one does alone.
func (f *fullGraph) diagnose(be compute.Backend, store *model.Store, args []any, trainable []string) error {
	d := diagnoseGradient(be, f.src, f.gm, store, f.inputs, args, trainable, f.outName)
	if d == nil {
		return nil
	}
	return d
}

// bnToReset are the BatchNormalization statistics --reinit restarts: only
// those that the run updates.
func (r *run) bnToReset() []bnStat { return r.bn }

// loadData reads the training data and the validation file, if any
// (--val-split happens later, after teacher logits are attached).
func loadData(ctx context.Context, req *Request, inputs []data.InputInfo) (train, val *dataset, err error) {
	spec := req.Train
	spec.Inputs = inputs
	if train, err = loadDataset(ctx, spec); err != nil {
		return nil, nil, err
	}
	if train.Rows == 0 {
		return nil, nil, fmt.Errorf("%s has no rows to train on", spec.Path)
	}
	if req.Val != nil {
		vs := *req.Val
		vs.Inputs = inputs
		if val, err = loadDataset(ctx, vs); err != nil {
			return nil, nil, fmt.Errorf("validation data: %w", err)
		}
		if val.Rows == 0 {
			return nil, nil, fmt.Errorf("the validation data %s has no rows", vs.Path)
		}
	}
	return train, val, nil
}

// checkLabels checks labels against the loss and the model's output.
func checkLabels(ds *dataset, loss lossSpec, perRow int, isVal bool) error {
	what := "the labels"
	if isVal {
		what = "the validation labels"
	}
	if ds.Labels == nil {
		if loss.labels && !isVal {
			return fmt.Errorf("the training data has no labels: pass --labels or --label-column")
		}
		return nil
	}
	switch loss.kind {
	case LossCrossEntropy:
		if ds.labelWidth() != 1 {
			return fmt.Errorf("%s have %d values per row; cross_entropy needs one class id per row", what, ds.labelWidth())
		}
		var vals []int64
		if ds.Labels.DType == data.Int64 {
			vals = ds.Labels.Int64s()
		} else {
			for i, f := range ds.Labels.Float64s() {
				if f != math.Trunc(f) {
					return fmt.Errorf("%s: row %d has label %v; cross_entropy needs whole class ids", what, ds.FileRow(i), f)
				}
				vals = append(vals, int64(f))
			}
			ds.Labels = &data.Tensor{DType: data.Int64, Shape: ds.Labels.Shape, Data: int64Bytes(vals)}
		}
		for i, v := range vals {
			if v < 0 || v >= int64(perRow) {
				return fmt.Errorf("%s: row %d has class %d, outside 0..%d (the model scores %d classes)", what, ds.FileRow(i), v, perRow-1, perRow)
			}
		}
	default:
		if ds.labelWidth() != perRow {
			return fmt.Errorf("%s have %d values per row but the model gives %d outputs per row", what, ds.labelWidth(), perRow)
		}
		if ds.Labels.DType != data.Float64 {
			f := ds.Labels.Float64s()
			ds.Labels = &data.Tensor{DType: data.Float64, Shape: ds.Labels.Shape, Data: float64Bytes(f)}
		}
	}
	return nil
}

// validate returns the mean loss and the accuracy over the validation data.
func (r *run) validate(ctx context.Context) (loss, acc *float64, err error) {
	bs := r.req.Hyper.BatchSize
	var sum float64
	correct, counted := 0, 0
	haveLoss := true
	for s := 0; s < r.val.Rows; s += bs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		idx := make([]int, 0, bs)
		for i := s; i < min(s+bs, r.val.Rows); i++ {
			idx = append(idx, i)
		}
		out, rl, err := r.evaluate(r.val, idx)
		if err != nil {
			return nil, nil, err
		}
		if rl == nil {
			haveLoss = false
		} else {
			for _, v := range floats64(rl) {
				sum += v
			}
		}
		c, n := r.correct(out, idx)
		correct += c
		counted += n
		out.FinalizeAll()
		if rl != nil {
			rl.FinalizeAll()
		}
	}
	if haveLoss {
		l := sum / float64(r.val.Rows)
		loss = &l
	}
	if counted > 0 {
		a := float64(correct) / float64(counted)
		acc = &a
	}
	return loss, acc, nil
}

// correct counts right predictions against the validation labels: arg-max
// for class scores, logit > 0 against label > 0.5 for bce.
func (r *run) correct(out *tensors.Tensor, idx []int) (int, int) {
	if r.val.Labels == nil || r.loss.kind == LossMSE {
		return 0, 0
	}
	vals := floats64(out)
	n := len(idx)
	width := len(vals) / n
	c := 0
	switch r.loss.kind {
	case LossCrossEntropy:
		labels := r.val.Labels.Int64s()
		for j, i := range idx {
			row := vals[j*width : (j+1)*width]
			best := 0
			for k, v := range row {
				if v > row[best] {
					best = k
				}
			}
			if int64(best) == labels[i] {
				c++
			}
		}
		return c, n
	default:
		labels := r.val.Labels.Float64s()
		for j, i := range idx {
			for k := 0; k < width; k++ {
				if (vals[j*width+k] > 0) == (labels[i*width+k] > 0.5) {
					c++
				}
			}
		}
		return c, n * width
	}
}

// floats64 reads a float tensor's values.
func floats64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	}
	return nil
}

func int64Bytes(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func float64Bytes(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}
