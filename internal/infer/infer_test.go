package infer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestTypeTable checks the one table both ways for every element type the
// data layer has, and that its ONNX side agrees with the names each
// package prints (so ParseDType(onnx.String()) and the table never
// disagree).
func TestTypeTable(t *testing.T) {
	for d := data.Float32; d <= data.Bool; d++ {
		o, ok := ONNXType(d)
		if !ok {
			t.Errorf("%v has no ONNX type", d)
			continue
		}
		if back, ok := DataType(o); !ok || back != d {
			t.Errorf("%v -> %v -> %v", d, o, back)
		}
		if o.ByteSize() != d.Size() {
			t.Errorf("%v is %d bytes, %v is %d", d, d.Size(), o, o.ByteSize())
		}
		if parsed, err := data.ParseDType(o.String()); err != nil || parsed != d {
			t.Errorf("data.ParseDType(%q) = %v, %v; want %v", o.String(), parsed, err, d)
		}
	}
	for _, o := range []onnx.DataType{onnx.Float16, onnx.String, onnx.BFloat16, onnx.Undefined} {
		if d, ok := DataType(o); ok {
			t.Errorf("%v maps to %v; data files cannot hold it", o, d)
		}
	}
	if _, ok := ONNXType(data.Invalid); ok {
		t.Error("Invalid maps to an ONNX type")
	}
}

func TestInputsAndFeed(t *testing.T) {
	ins, err := Inputs([]runtime.TensorInfo{{Name: "x", DataType: onnx.Uint8, Shape: []int64{-1, 4}}})
	if err != nil || len(ins) != 1 || ins[0].DType != data.Uint8 || !slices.Equal(ins[0].Shape, []int64{-1, 4}) {
		t.Fatalf("%+v %v", ins, err)
	}
	_, err = Inputs([]runtime.TensorInfo{{Name: "ids", DataType: onnx.String}})
	if err == nil || err.Error() != `model input "ids" has type STRING, which data files cannot feed` {
		t.Errorf("err = %v", err)
	}
	tn := data.NewTensor(data.Int32, []int64{2, 2})
	feed, err := Feed(&data.Batch{Rows: 2, Inputs: map[string]*data.Tensor{"x": tn}})
	if err != nil || feed["x"].DataType != onnx.Int32 || &feed["x"].Data[0] != &tn.Data[0] || !slices.Equal(feed["x"].Shape, []int64{2, 2}) {
		t.Fatalf("feed %+v %v (must share the bytes)", feed["x"], err)
	}
	if _, err := Feed(&data.Batch{Inputs: map[string]*data.Tensor{"x": {DType: data.Invalid}}}); err == nil || !strings.Contains(err.Error(), `input "x"`) {
		t.Errorf("invalid type: %v", err)
	}
}

// TestEachOverFashionMNIST feeds the test set through the MLP: every row
// arrives once, in order, and the session accepts every feed.
func TestEachOverFashionMNIST(t *testing.T) {
	rt := testutil.Runtime(t)
	sess, err := rt.NewSession(testutil.RepoFile(t, "testdata/fmnist/mlp.onnx"), runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ctx := context.Background()
	spec := data.Spec{
		Path:       testutil.RepoFile(t, "testdata/fmnist/x_test.npy"),
		LabelsPath: testutil.RepoFile(t, "testdata/fmnist/y_test.npy"),
		BatchSize:  300, Limit: 1000,
	}
	src, err := Open(ctx, sess.Inputs(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := sess.Outputs()[0].Name
	next, batches := 0, 0
	err = Each(ctx, src, func(b *data.Batch, feed map[string]*runtime.Tensor) error {
		if b.Offset != next {
			t.Fatalf("batch at %d, want %d", b.Offset, next)
		}
		next += b.Rows
		batches++
		res, err := sess.Run(ctx, feed, []string{out})
		if err != nil {
			return err
		}
		if res[out].Shape[0] != int64(b.Rows) {
			t.Errorf("output shape %v for %d rows", res[out].Shape, b.Rows)
		}
		return nil
	})
	if err != nil || next != 1000 || batches != 4 {
		t.Fatalf("err %v after %d rows in %d batches", err, next, batches)
	}

	// The same rows in memory, shuffled: features and labels stay together.
	ds, err := ReadAll(ctx, sess.Inputs(), spec)
	if err != nil {
		t.Fatal(err)
	}
	idx := ds.Epoch(64, 1, 0)[0]
	b := ds.Batch(idx)
	want := ds.Batch([]int{idx[5]})
	if !slices.Equal(b.Inputs[sess.Inputs()[0].Name].Float32s()[5*784:6*784], want.Inputs[sess.Inputs()[0].Name].Float32s()) ||
		b.Labels.Int64s()[5] != want.Labels.Int64s()[0] {
		t.Error("a shuffled batch does not keep rows together")
	}
	if _, err := Feed(b); err != nil {
		t.Fatal(err)
	}

	stop := errors.New("stop")
	src2, _ := Open(ctx, sess.Inputs(), spec)
	defer src2.Close()
	if err := Each(ctx, src2, func(*data.Batch, map[string]*runtime.Tensor) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	src3, _ := Open(ctx, sess.Inputs(), spec)
	defer src3.Close()
	if err := Each(cctx, src3, func(*data.Batch, map[string]*runtime.Tensor) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
