package prune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// ErrNothingToPrune means the options select no weight in the model.
var ErrNothingToPrune = errors.New("nothing to prune")

// Prune applies o to m in memory and reports what changed. m is modified.
func Prune(ctx context.Context, m *onnx.Model, o Options) (*Report, error) {
	st := onnx.NewTensorStream(m, false)
	defer st.Close()
	return prune(ctx, m, st, o)
}

// prune is Prune with tensors read and replaced through st, which for a
// model with external data keeps one tensor in memory at a time (close st
// after saving m).
func prune(ctx context.Context, m *onnx.Model, st *onnx.TensorStream, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nm, isNM, _ := ParsePattern(o.Pattern)
	r := &Report{Scope: o.Scope, Criterion: o.Criterion, Pattern: o.Pattern, Sparsity: o.Sparsity, Mode: "unstructured"}
	r.FLOPs, r.FLOPsComplete = countFLOPs(m)
	switch {
	case o.Structured:
		r.Mode = "structured"
		if err := pruneStructured(m, st, &o, r); err != nil {
			return nil, err
		}
	default:
		if isNM {
			r.Mode, r.Sparsity = "n:m", float64(nm.N)/float64(nm.M)
		}
		targets, skips := findTargets(m, &o)
		r.Skipped = append(r.Skipped, skips...)
		if len(targets) == 0 {
			return r, fmt.Errorf("%w: no %v weight among the model's initializers passes the selection (see the skipped list)", ErrNothingToPrune, o.OpTypes)
		}
		if err := pruneUnstructured(ctx, st, targets, &o, r); err != nil {
			return nil, err
		}
	}
	if len(r.Layers) == 0 {
		return r, fmt.Errorf("%w: every candidate layer was skipped (see the skipped list)", ErrNothingToPrune)
	}
	var after bool
	r.FLOPsAfter, after = countFLOPs(m)
	r.FLOPsComplete = r.FLOPsComplete && after
	r.totals()
	return r, nil
}

// Request is one `mlops prune` run: a model file in, a model file out.
type Request struct {
	Input, Output string
	Options       Options
	SparseStorage bool

	// Eval, when its Path is set, measures accuracy before and after.
	Eval    data.Spec
	Session runtime.SessionOptions
	// MaxDrop > 0 searches the largest sparsity (up to Options.Sparsity, or
	// 0.99 when that is 0) whose accuracy drop stays within MaxDrop.
	MaxDrop float64
	// Progress, when set, is told about each search step.
	Progress func(step SearchStep)
}

// Run prunes Input and writes Output (temp file + rename; nothing is left
// at Output on failure). rt is needed only when req.Eval is set; it may be
// nil otherwise.
func Run(ctx context.Context, rt *runtime.Runtime, req Request) (*Report, error) {
	if req.MaxDrop < 0 || req.MaxDrop >= 1 {
		return nil, fmt.Errorf("--max-drop %v is outside [0, 1): give the largest accuracy loss to accept, e.g. 0.01", req.MaxDrop)
	}
	if req.MaxDrop > 0 && req.Eval.Path == "" {
		return nil, errors.New("--max-drop needs --eval-data (with labels) to measure accuracy")
	}
	if err := req.Options.Validate(); err != nil {
		return nil, err
	}
	src, err := onnx.LoadForRewrite(req.Input) // sorted and checked
	if err != nil {
		return nil, err
	}
	defer src.Close()

	var base float64
	var rows int
	if req.Eval.Path != "" {
		if rt == nil {
			return nil, errors.New("accuracy evaluation needs ONNX Runtime")
		}
		// Before any work, so labels eval refuses stop the run here.
		base, rows, err = accuracy(ctx, rt, req.Input, req.Eval, req.Session)
		if err != nil {
			return nil, err
		}
	}

	var (
		m      *onnx.Model
		r      *Report
		search []SearchStep
	)
	if req.MaxDrop > 0 {
		m, r, search, err = searchSparsity(ctx, rt, src, req, base)
	} else {
		m = src.Clone()
		st := onnx.NewTensorStream(m, true)
		defer st.Close() // after the save below: it removes the spill file
		r, err = prune(ctx, m, st, req.Options)
	}
	if err != nil {
		return r, err
	}
	defer m.Close()
	r.Search = search

	if req.SparseStorage {
		names := map[string]bool{}
		for _, l := range r.Layers {
			names[l.Name] = true
		}
		if r.SparseStored, err = storeSparse(m, names, onnx.DataType(onnxpb.TensorProto_INT64)); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := onnx.Check(m); err != nil {
		return nil, fmt.Errorf("the pruned model does not pass the ONNX checker although %s does: a bug in mlops prune (please report this): %w", req.Input, err)
	}
	if err := m.SaveContext(ctx, req.Output, onnx.SaveOptions{}); err != nil {
		return nil, err // Save's errors name the file
	}
	r.Input, r.Output = req.Input, req.Output
	r.BytesBefore, r.BytesAfter = diskBytes(req.Input), diskBytes(req.Output)
	if req.Eval.Path != "" {
		after, _, err := accuracy(ctx, rt, req.Output, req.Eval, req.Session)
		if err != nil {
			os.Remove(req.Output)
			return nil, fmt.Errorf("evaluate the pruned model: %w", err)
		}
		r.Accuracy = &Accuracy{Samples: rows, Before: base, After: after, Drop: base - after}
	}
	return r, nil
}

// MaxSearchSteps is the most sparsities searchSparsity tries (the upper end, then bisections).
const MaxSearchSteps = 8

// searchSparsity bisects the sparsity so the accuracy drop stays within
// MaxDrop, and returns the pruned model of the largest passing sparsity.
func searchSparsity(ctx context.Context, rt *runtime.Runtime, src *onnx.Model, req Request, base float64) (*onnx.Model, *Report, []SearchStep, error) {
	hi := req.Options.Sparsity
	if hi == 0 {
		hi = 0.99
	}
	dir, err := os.MkdirTemp("", "mlops-prune-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(dir)
	var steps []SearchStep
	try := func(s float64) (*onnx.Model, *Report, bool, error) {
		m := src.Clone()
		o := req.Options
		o.Sparsity = s
		r, err := Prune(ctx, m, o)
		if err != nil {
			return nil, nil, false, err
		}
		path := filepath.Join(dir, fmt.Sprintf("try-%d.onnx", time.Now().UnixNano()))
		if err := m.SaveContext(ctx, path, onnx.SaveOptions{}); err != nil {
			return nil, nil, false, err
		}
		acc, _, err := accuracy(ctx, rt, path, req.Eval, req.Session)
		if err != nil {
			return nil, nil, false, err
		}
		st := SearchStep{Sparsity: s, Accuracy: acc, Drop: base - acc, Within: base-acc <= req.MaxDrop}
		steps = append(steps, st)
		if req.Progress != nil {
			req.Progress(st)
		}
		return m, r, st.Within, nil
	}
	if m, r, ok, err := try(hi); err != nil || ok {
		return m, r, steps, err
	}
	lo := 0.0
	var best *onnx.Model
	var bestR *Report
	for i := 1; i < MaxSearchSteps && hi-lo > 0.005; i++ {
		mid := (lo + hi) / 2
		m, r, ok, err := try(mid)
		if err != nil {
			return nil, nil, steps, err
		}
		if ok {
			lo, best, bestR = mid, m, r
		} else {
			hi = mid
		}
	}
	if best == nil {
		m := src.Clone()
		o := req.Options
		o.Sparsity = 0
		r, err := Prune(ctx, m, o)
		return m, r, steps, err
	}
	return best, bestR, steps, nil
}

// diskBytes is the size of a model file plus the external data it uses.
func diskBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	n := st.Size()
	m, err := onnx.Load(path)
	if err != nil {
		return n
	}
	defer m.Close()
	for _, e := range onnx.Summarize(m).ExternalData {
		n += e.Bytes
	}
	return n
}

// accuracy is the model's top-1 accuracy on spec, measured by eval (which
// checks the labels: integer class ids within the model's classes, one per
// row).
func accuracy(ctx context.Context, rt *runtime.Runtime, path string, spec data.Spec, so runtime.SessionOptions) (float64, int, error) {
	r, err := eval.Run(ctx, rt, eval.Request{Model: eval.Model{Path: path}, Data: spec, Session: so})
	if err != nil {
		return 0, 0, err
	}
	return r.Metric("accuracy"), r.Rows, nil
}
