package prune

import (
	"encoding/binary"
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// storeSparse moves pruned initializers of the main graph into
// sparse_initializer (COO: the non-zero values and their linear indices),
// which ONNX Runtime expands back to dense tensors when it loads the model.
// A tensor moves only when its sparse form is smaller than its dense form.
// It returns how many tensors moved.
func storeSparse(m *onnx.Model, names map[string]bool, indexType onnx.DataType) (int, error) {
	gp := m.Proto.GetGraph()
	if gp == nil {
		return 0, nil
	}
	idxSize := indexType.ByteSize()
	moved := 0
	kept := gp.Initializer[:0]
	var added []*onnxpb.SparseTensorProto
	for _, t := range gp.Initializer {
		if !names[t.GetName()] {
			kept = append(kept, t)
			continue
		}
		sp, err := toSparse(m, t, indexType)
		if err != nil {
			return 0, err
		}
		dt := onnx.TypeOf(t)
		n, _ := onnx.NumElements(t)
		nnz := int64(len(sp.GetValues().GetRawData())) / int64(dt.ByteSize())
		if nnz*int64(dt.ByteSize()+idxSize) >= dt.StorageBytes(n) {
			kept = append(kept, t)
			continue
		}
		added = append(added, sp)
		moved++
	}
	gp.Initializer = kept
	gp.SparseInitializer = append(gp.SparseInitializer, added...)
	return moved, nil
}

// toSparse builds the COO form of a dense float tensor.
func toSparse(m *onnx.Model, t *onnxpb.TensorProto, indexType onnx.DataType) (*onnxpb.SparseTensorProto, error) {
	raw, err := onnx.RawBytes(m, t)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", t.GetName(), err)
	}
	dt := onnx.TypeOf(t)
	size := dt.ByteSize()
	var vals, idx []byte
	var nnz int64
	for i := 0; i+size <= len(raw); i += size {
		if isZero(raw[i : i+size]) {
			continue
		}
		vals = append(vals, raw[i:i+size]...)
		pos := uint64(i / size)
		switch indexType {
		case onnx.DataType(onnxpb.TensorProto_INT32):
			idx = binary.LittleEndian.AppendUint32(idx, uint32(pos))
		default:
			idx = binary.LittleEndian.AppendUint64(idx, pos)
		}
		nnz++
	}
	values := &onnxpb.TensorProto{Name: t.Name}
	if err := onnx.SetRaw(values, dt, []int64{nnz}, vals); err != nil {
		return nil, err
	}
	indices := &onnxpb.TensorProto{}
	if err := onnx.SetRaw(indices, indexType, []int64{nnz}, idx); err != nil {
		return nil, err
	}
	return &onnxpb.SparseTensorProto{Values: values, Indices: indices, Dims: append([]int64(nil), t.GetDims()...)}, nil
}

// isZero reports whether an element is zero; -0.0 counts as non-zero so the
// round trip stays bit-exact.
func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
