// Package infer joins the data layer to ONNX Runtime: it feeds batches from
// internal/data to a runtime.Session and measures what commands need from a
// whole dataset (classification accuracy, today). It holds no state.
package infer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Inputs describes a session's inputs the way internal/data needs them.
func Inputs(infos []runtime.TensorInfo) ([]data.InputInfo, error) {
	out := make([]data.InputInfo, 0, len(infos))
	for _, in := range infos {
		dt, err := data.ParseDType(in.DataType.String())
		if err != nil {
			return nil, fmt.Errorf("model input %q has type %s, which data files cannot feed", in.Name, in.DataType)
		}
		out = append(out, data.InputInfo{Name: in.Name, DType: dt, Shape: in.Shape})
	}
	return out, nil
}

// Feed turns a batch into runtime tensors (sharing the bytes).
func Feed(b *data.Batch) (map[string]*runtime.Tensor, error) {
	out := make(map[string]*runtime.Tensor, len(b.Inputs))
	for name, t := range b.Inputs {
		dt, err := onnx.ParseDataType(t.DType.String())
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		out[name] = &runtime.Tensor{DataType: dt, Shape: t.Shape, Data: t.Data}
	}
	return out, nil
}

// Accuracy runs the model at path over labelled data and returns the share
// of rows whose arg-max over the first output equals the integer label.
func Accuracy(ctx context.Context, rt *runtime.Runtime, path string, spec data.Spec, so runtime.SessionOptions) (acc float64, rows int, err error) {
	sess, err := rt.NewSession(path, so)
	if err != nil {
		return 0, 0, err
	}
	defer sess.Close()
	spec.Inputs, err = Inputs(sess.Inputs())
	if err != nil {
		return 0, 0, err
	}
	src, err := data.Open(ctx, spec)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	if !src.HasLabels() {
		return 0, 0, errors.New("the evaluation data has no labels: give a labels file or a label column")
	}
	outName := sess.Outputs()[0].Name
	correct := 0
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		feed, err := Feed(b)
		if err != nil {
			return 0, 0, err
		}
		res, err := sess.Run(ctx, feed, []string{outName})
		if err != nil {
			return 0, 0, err
		}
		scores, err := res[outName].AsFloat32s()
		if err != nil {
			return 0, 0, err
		}
		labels, err := classIDs(b.Labels)
		if err != nil {
			return 0, 0, err
		}
		if b.Rows == 0 || len(scores)%b.Rows != 0 {
			return 0, 0, fmt.Errorf("output %q has %d values for %d rows", outName, len(scores), b.Rows)
		}
		width := len(scores) / b.Rows
		for i := 0; i < b.Rows; i++ {
			if int64(argmax(scores[i*width:(i+1)*width])) == labels[i] {
				correct++
			}
		}
		rows += b.Rows
	}
	if rows == 0 {
		return 0, 0, errors.New("the evaluation data is empty")
	}
	return float64(correct) / float64(rows), rows, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// classIDs reads labels as integer class ids; float labels must be whole.
func classIDs(t *data.Tensor) ([]int64, error) {
	if !t.DType.IsFloat() {
		return t.Int64s(), nil
	}
	vals := t.Float64s()
	out := make([]int64, len(vals))
	for i, v := range vals {
		if v != float64(int64(v)) {
			return nil, fmt.Errorf("label %v at row %d is not a class id: accuracy needs integer labels", v, i)
		}
		out[i] = int64(v)
	}
	return out, nil
}
