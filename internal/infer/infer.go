// Package infer is the one bridge from the data layer (internal/data) to
// ONNX Runtime (internal/runtime): the one table of element types between
// them, the description of a session's inputs that data.Open needs, the
// conversion of a batch into runtime tensors (Feed), and the loop that
// hands every batch of a source to a function with its feed (Each).
// eval, quantize's calibration and evaluation, prune and retrain all go
// through it, so a type or shape is accepted or refused the same way
// everywhere.
//
// A typical pass over a dataset:
//
//	src, err := infer.Open(ctx, sess.Inputs(), spec)
//	defer src.Close()
//	err = infer.Each(ctx, src, func(b *data.Batch, feed map[string]*runtime.Tensor) error {
//		out, err := sess.Run(ctx, feed, []string{"logits"})
//		...
//	})
//
// For training, data.ReadAll (or infer.ReadAll, which shapes the data for a
// session) holds a dataset in memory with seeded shuffled batches; Feed
// turns each of its batches into tensors. The package holds no state.
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

// types pairs every element type data files can hold with its ONNX type.
var types = [...]struct {
	data data.DType
	onnx onnx.DataType
}{
	{data.Float32, onnx.Float}, {data.Float64, onnx.Double},
	{data.Int8, onnx.Int8}, {data.Int16, onnx.Int16}, {data.Int32, onnx.Int32}, {data.Int64, onnx.Int64},
	{data.Uint8, onnx.Uint8}, {data.Uint16, onnx.Uint16}, {data.Uint32, onnx.Uint32}, {data.Uint64, onnx.Uint64},
	{data.Bool, onnx.Bool},
}

// ONNXType is the ONNX element type of a data-layer type.
func ONNXType(d data.DType) (onnx.DataType, bool) {
	for _, t := range types {
		if t.data == d {
			return t.onnx, true
		}
	}
	return onnx.Undefined, false
}

// DataType is the data-layer type of an ONNX element type; false for types
// data files cannot hold (float16, strings, ...).
func DataType(o onnx.DataType) (data.DType, bool) {
	for _, t := range types {
		if t.onnx == o {
			return t.data, true
		}
	}
	return data.Invalid, false
}

// Inputs describes a session's inputs the way data.Open needs them.
func Inputs(infos []runtime.TensorInfo) ([]data.InputInfo, error) {
	out := make([]data.InputInfo, 0, len(infos))
	for _, in := range infos {
		dt, ok := DataType(in.DataType)
		if !ok {
			return nil, fmt.Errorf("model input %q has type %s, which data files cannot feed", in.Name, in.DataType)
		}
		out = append(out, data.InputInfo{Name: in.Name, DType: dt, Shape: in.Shape})
	}
	return out, nil
}

// Feed turns a batch's inputs into runtime tensors, sharing the bytes (the
// two packages use the same row-major little-endian layout).
func Feed(b *data.Batch) (map[string]*runtime.Tensor, error) {
	out := make(map[string]*runtime.Tensor, len(b.Inputs))
	for name, t := range b.Inputs {
		dt, ok := ONNXType(t.DType)
		if !ok {
			return nil, fmt.Errorf("input %q: element type %v has no ONNX equivalent", name, t.DType)
		}
		out[name] = &runtime.Tensor{DataType: dt, Shape: t.Shape, Data: t.Data}
	}
	return out, nil
}

// Open opens spec shaped for a session's inputs (spec.Inputs is replaced).
func Open(ctx context.Context, inputs []runtime.TensorInfo, spec data.Spec) (data.Source, error) {
	var err error
	if spec.Inputs, err = Inputs(inputs); err != nil {
		return nil, err
	}
	return data.Open(ctx, spec)
}

// ReadAll reads spec, shaped for a session's inputs, into memory.
func ReadAll(ctx context.Context, inputs []runtime.TensorInfo, spec data.Spec) (*data.Dataset, error) {
	var err error
	if spec.Inputs, err = Inputs(inputs); err != nil {
		return nil, err
	}
	return data.ReadAll(ctx, spec)
}

// Each calls fn with every batch of src and its feed, in order, until the
// source ends (nil), fn fails or ctx is cancelled (that error).
func Each(ctx context.Context, src data.Source, fn func(b *data.Batch, feed map[string]*runtime.Tensor) error) error {
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		feed, err := Feed(b)
		if err != nil {
			return err
		}
		if err := fn(b, feed); err != nil {
			return err
		}
	}
}
