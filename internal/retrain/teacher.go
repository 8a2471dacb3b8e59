package retrain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// teacherLogits fills the teacher logits of the training and validation
// rows, from ONNX Runtime running the teacher model (any op set) or from a
// file. A teacher that ends in Softmax gives probabilities; their logarithm
// is used, which softmax maps back to the same distribution.
func (r *run) teacherLogits(ctx context.Context) error {
	if r.req.TeacherLogits != "" {
		return r.teacherFromFile(ctx)
	}
	if r.rt == nil {
		return errors.New("distilling from --teacher needs ONNX Runtime, which is not available")
	}
	tm, err := onnx.Load(r.req.Teacher)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	_, out, probs, err := lossOutput(tm, LossCrossEntropy)
	tm.Close()
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	sess, err := r.rt.NewSessionContext(ctx, r.req.Teacher, r.req.Session)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	defer sess.Close()
	for _, ds := range []*dataset{r.train, r.val} {
		if ds == nil {
			continue
		}
		vals, width, err := runORT(ctx, sess, ds, r.req.Hyper.BatchSize, out, "teacher")
		if err != nil {
			return err
		}
		if probs {
			for i, p := range vals {
				vals[i] = float32(math.Log(math.Max(float64(p), 1e-12)))
			}
		}
		ds.teacher, ds.k = vals, width
	}
	return nil
}

// teacherFromFile reads --teacher-logits: one row of logits per row of
// --data (before any --val-split). A --val-data file then has no teacher
// logits: its rows report accuracy but no loss.
func (r *run) teacherFromFile(ctx context.Context) error {
	src, err := data.Open(ctx, data.Spec{Path: r.req.TeacherLogits, BatchSize: 4096})
	if err != nil {
		return fmt.Errorf("--teacher-logits: %w", err)
	}
	defer src.Close()
	ins := src.Inputs()
	if len(ins) != 1 {
		return fmt.Errorf("--teacher-logits %s must hold one array of shape [rows, classes], found %d", r.req.TeacherLogits, len(ins))
	}
	var vals []float32
	rows := 0
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("--teacher-logits: %w", err)
		}
		vals = append(vals, b.Inputs[ins[0].Name].Float32s()...)
		rows += b.Rows
	}
	if rows != r.train.Rows {
		return fmt.Errorf("--teacher-logits %s has %d rows but the training data %d; they must match one to one", r.req.TeacherLogits, rows, r.train.Rows)
	}
	r.train.teacher, r.train.k = vals, len(vals)/max(1, rows)
	return nil
}

// runORT runs sess over every row of ds in order and returns output out
// (rows × width values).
func runORT(ctx context.Context, sess *runtime.Session, ds *dataset, batch int, out, what string) ([]float32, int, error) {
	var vals []float32
	width := -1
	for s := 0; s < ds.Rows; s += batch {
		n := min(batch, ds.Rows-s)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = s + i
		}
		b := &data.Batch{Offset: s, Rows: n, Inputs: map[string]*data.Tensor{}}
		for ci, raw := range ds.batchRows(idx) {
			c := ds.Columns[ci]
			b.Inputs[c.Name] = &data.Tensor{DType: c.DType, Shape: append([]int64{int64(n)}, c.RowShape...), Data: raw}
		}
		feed, err := infer.Feed(b)
		if err != nil {
			return nil, 0, err
		}
		res, err := sess.Run(ctx, feed, []string{out})
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", what, err)
		}
		v, err := res[out].AsFloat32s()
		if err != nil {
			return nil, 0, fmt.Errorf("%s output %q: %w", what, out, err)
		}
		if len(v)%n != 0 || (width >= 0 && len(v)/n != width) {
			return nil, 0, fmt.Errorf("%s output %q has %d values for %d rows", what, out, len(v), n)
		}
		width = len(v) / n
		vals = append(vals, v...)
	}
	return vals, width, nil
}
