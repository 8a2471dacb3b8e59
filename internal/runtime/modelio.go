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
	fieldModelMetadata    = 14 // metadata_props: StringStringEntryProto {key = 1, value = 2}
	fieldGraphInitializer = 5
	fieldGraphInput       = 11
	fieldGraphOutput      = 12
	fieldTensorName       = 8
	fieldTensorLocation   = 14 // data_location: 1 = EXTERNAL
)

// modelInfo is what a session needs to know about a model before ORT loads it.
type modelInfo struct {
	inputs, outputs []TensorInfo
	external        bool // some initializer keeps its bytes in an external file
	metadata        map[string]string
}

// modelIO reads the graph's declared inputs (minus those that are
// initializers, which ORT treats as constants) and outputs, and whether any
// initializer uses external data.
func modelIO(model []byte) (info modelInfo, err error) {
	var inputs, outputs []TensorInfo
	graph, err := findField(model, fieldModelGraph)
	if err != nil {
		return info, fmt.Errorf("read model: %w", err)
	}
	if graph == nil {
		return info, errors.New("read model: it has no graph (is this an ONNX model file?)")
	}
	initializers := map[string]bool{}
	var ins, outs []*onnxpb.ValueInfoProto
	b := graph
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return info, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != fieldGraphInitializer && num != fieldGraphInput && num != fieldGraphOutput) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return info, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return info, fmt.Errorf("read model graph: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldGraphInitializer:
			name, err := findField(v, fieldTensorName)
			if err != nil {
				return info, fmt.Errorf("read model initializer: %w", err)
			}
			initializers[string(name)] = true
			if isExternal(v) {
				info.external = true
			}
		case fieldGraphInput, fieldGraphOutput:
			vi := &onnxpb.ValueInfoProto{}
			if err := proto.Unmarshal(v, vi); err != nil {
				return info, fmt.Errorf("read model graph input/output: %w", err)
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
	info.inputs, info.outputs = inputs, outputs
	if info.metadata, err = metadataProps(model); err != nil {
		return info, fmt.Errorf("read model metadata_props: %w", err)
	}
	return info, nil
}

// metadataProps reads the model's metadata_props (later entries win, as in
// ORT's ModelMetadata).
func metadataProps(model []byte) (map[string]string, error) {
	props := map[string]string{}
	b := model
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num != fieldModelMetadata || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		entry, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		kv := &onnxpb.StringStringEntryProto{}
		if err := proto.Unmarshal(entry, kv); err != nil {
			return nil, err
		}
		props[kv.GetKey()] = kv.GetValue()
	}
	return props, nil
}

// isExternal reports whether a serialised TensorProto says data_location =
// EXTERNAL. Malformed bytes count as not external; ORT reports them.
func isExternal(tensor []byte) bool {
	b := tensor
	external := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == fieldTensorLocation && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			external = v == 1
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return external
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
