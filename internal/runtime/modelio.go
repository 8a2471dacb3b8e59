package runtime

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// TensorInfo describes one model input or output.
type TensorInfo struct {
	Name     string
	DataType onnx.DataType // Undefined for non-tensor values (sequences, maps)
	// Shape has -1 for a dimension without a fixed size. It is nil when the
	// model does not declare a shape at all (RankKnown false); a declared
	// scalar has RankKnown true and an empty Shape.
	Shape []int64
	// DimNames holds each dimension's symbolic name ("batch"), "" where the
	// size is fixed or unnamed.
	DimNames  []string
	RankKnown bool
}

// Field numbers from onnx.proto, used to pick a model's inputs and outputs
// out of its bytes without decoding (and copying) the weights.
const (
	fieldModelGraph       = 7
	fieldGraphInitializer = 5
	fieldGraphInput       = 11
	fieldGraphOutput      = 12
	fieldTensorName       = 8
)

// modelIO reads the graph's declared inputs (minus those that are
// initializers, which ORT treats as constants) and outputs.
func modelIO(model []byte) (inputs, outputs []TensorInfo, err error) {
	graph, err := findField(model, fieldModelGraph)
	if err != nil {
		return nil, nil, fmt.Errorf("read model: %w", err)
	}
	if graph == nil {
		return nil, nil, errors.New("read model: it has no graph (is this an ONNX model file?)")
	}
	initializers := map[string]bool{}
	var ins, outs []*onnxpb.ValueInfoProto
	b := graph
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != fieldGraphInitializer && num != fieldGraphInput && num != fieldGraphOutput) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, nil, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, nil, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldGraphInitializer:
			name, err := findField(v, fieldTensorName)
			if err != nil {
				return nil, nil, fmt.Errorf("read model initializer: %w", err)
			}
			initializers[string(name)] = true
		case fieldGraphInput, fieldGraphOutput:
			vi := &onnxpb.ValueInfoProto{}
			if err := proto.Unmarshal(v, vi); err != nil {
				return nil, nil, fmt.Errorf("read model graph input/output: %w", err)
			}
			if num == fieldGraphInput {
				ins = append(ins, vi)
			} else {
				outs = append(outs, vi)
			}
		}
	}
	for _, vi := range ins {
		if !initializers[vi.GetName()] {
			inputs = append(inputs, tensorInfo(vi))
		}
	}
	for _, vi := range outs {
		outputs = append(outputs, tensorInfo(vi))
	}
	return inputs, outputs, nil
}

// findField returns the last occurrence of a length-delimited field (protobuf
// merges repeated occurrences of a message; for our uses the last wins), or
// nil when it is absent.
func findField(b []byte, want protowire.Number) ([]byte, error) {
	var found []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num == want && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			found = v
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return found, nil
}

func tensorInfo(vi *onnxpb.ValueInfoProto) TensorInfo {
	info := TensorInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return info
	}
	info.DataType = onnx.DataType(tt.GetElemType())
	if tt.Shape == nil {
		return info
	}
	info.RankKnown = true
	dims := tt.GetShape().GetDim()
	info.Shape = make([]int64, len(dims))
	info.DimNames = make([]string, len(dims))
	for i, d := range dims {
		info.Shape[i] = -1
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimValue() >= 0 {
			info.Shape[i] = d.GetDimValue()
		}
		info.DimNames[i] = d.GetDimParam()
	}
	return info
}
