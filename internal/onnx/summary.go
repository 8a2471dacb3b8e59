package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Summary describes a model for `mlops inspect`. The JSON field names are a
// contract (snake_case, never renamed once shipped).
type Summary struct {
	IRVersion       int64            `json:"ir_version"`
	ProducerName    string           `json:"producer_name"`
	ProducerVersion string           `json:"producer_version"`
	ModelVersion    int64            `json:"model_version"`
	GraphName       string           `json:"graph_name"`
	Opsets          map[string]int64 `json:"opsets"` // domain → version; the default domain is "ai.onnx"
	Inputs          []ValueSummary   `json:"inputs"` // initializers listed as inputs (IR < 4) are left out
	Outputs         []ValueSummary   `json:"outputs"`
	// Nodes counts every node, those in subgraphs included; SubgraphNodes
	// is the part of it inside subgraphs.
	Nodes         int `json:"nodes"`
	SubgraphNodes int `json:"subgraph_nodes"`
	// OpTypes counts nodes per operator, subgraphs included; ops outside the
	// default domain are keyed "domain.Op". SubgraphOpTypes counts only the
	// nodes inside subgraphs.
	OpTypes         map[string]int `json:"op_types"`
	SubgraphOpTypes map[string]int `json:"subgraph_op_types"`
	Functions       int            `json:"functions"`
	// Parameters is the number of stored initializer elements (dense, and
	// the values of sparse initializers) in all graphs.
	Parameters       int64             `json:"parameters"`
	Initializers     int               `json:"initializers"`
	InitializerBytes int64             `json:"initializer_bytes"`
	BytesByDType     map[string]int64  `json:"bytes_by_dtype"`
	ExternalData     []ExternalFile    `json:"external_data"`
	MetadataProps    map[string]string `json:"metadata_props"`
}

// ValueSummary is a graph input or output. Shape holds an int64 per fixed
// dim, the name (string) of a symbolic dim, or nil for an unknown dim; a nil
// Shape means the rank is unknown, an empty one a scalar.
type ValueSummary struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

// ExternalFile is one external data file and what the model keeps in it.
type ExternalFile struct {
	Location string `json:"location"`
	Bytes    int64  `json:"bytes"`
	Tensors  int    `json:"tensors"`
}

// Summarize describes m. It reads no tensor bytes: sizes come from dims and
// element types, so it is as fast for a model with gigabytes of external
// data as for a small one.
func Summarize(m *Model) Summary {
	mp := m.Proto
	s := Summary{
		IRVersion:       mp.GetIrVersion(),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		ModelVersion:    mp.GetModelVersion(),
		GraphName:       mp.GetGraph().GetName(),
		Opsets:          Opsets(mp),
		Inputs:          []ValueSummary{},
		Outputs:         []ValueSummary{},
		OpTypes:         map[string]int{},
		SubgraphOpTypes: map[string]int{},
		Functions:       len(mp.GetFunctions()),
		BytesByDType:    map[string]int64{},
		ExternalData:    []ExternalFile{},
		MetadataProps:   map[string]string{},
	}
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		if !inits[v.GetName()] {
			s.Inputs = append(s.Inputs, summarizeValue(v))
		}
	}
	for _, v := range g.GetOutput() {
		s.Outputs = append(s.Outputs, summarizeValue(v))
	}
	for _, kv := range mp.GetMetadataProps() {
		s.MetadataProps[kv.GetKey()] = kv.GetValue()
	}
	ext := map[string]*ExternalFile{}
	addTensor := func(t *onnxpb.TensorProto, params bool) {
		n, err := NumElements(t)
		if err != nil {
			return
		}
		if params {
			s.Parameters += n
		}
		b := DataBytes(t)
		if TypeOf(t) == String {
			b = 0
			for _, str := range t.GetStringData() {
				b += int64(len(str))
			}
		}
		if b < 0 {
			return
		}
		s.InitializerBytes += b
		s.BytesByDType[TypeOf(t).String()] += b
		if IsExternal(t) {
			e, err := ExternalDataOf(t)
			if err != nil {
				return
			}
			f := ext[e.Location]
			if f == nil {
				f = &ExternalFile{Location: e.Location}
				ext[e.Location] = f
			}
			f.Bytes += b
			f.Tensors++
		}
	}
	var walk func(g *onnxpb.GraphProto, sub bool)
	walk = func(g *onnxpb.GraphProto, sub bool) {
		for _, t := range g.GetInitializer() {
			s.Initializers++
			addTensor(t, true)
		}
		for _, sp := range g.GetSparseInitializer() {
			s.Initializers++
			if v := sp.GetValues(); v != nil {
				addTensor(v, true)
			}
			if i := sp.GetIndices(); i != nil {
				addTensor(i, false)
			}
		}
		for _, n := range g.GetNode() {
			op := n.GetOpType()
			if d := normDomain(n.GetDomain()); d != "" {
				op = d + "." + op
			}
			s.Nodes++
			s.OpTypes[op]++
			if sub {
				s.SubgraphNodes++
				s.SubgraphOpTypes[op]++
			}
			for _, sg := range subgraphsOf(n) {
				walk(sg, true)
			}
		}
	}
	walk(g, false)
	for _, f := range ext {
		s.ExternalData = append(s.ExternalData, *f)
	}
	slices.SortFunc(s.ExternalData, func(a, b ExternalFile) int { return strings.Compare(a.Location, b.Location) })
	return s
}

func summarizeValue(v *onnxpb.ValueInfoProto) ValueSummary {
	vs := ValueSummary{Name: v.GetName(), DType: TypeString(v.GetType())}
	var shape *onnxpb.TensorShapeProto
	switch {
	case v.GetType().GetTensorType() != nil:
		shape = v.GetType().GetTensorType().GetShape()
	case v.GetType().GetSparseTensorType() != nil:
		shape = v.GetType().GetSparseTensorType().GetShape()
	}
	if shape != nil {
		vs.Shape = ShapeDims(shape)
	}
	return vs
}

// ShapeDims turns a shape into int64 (fixed), string (symbolic) or nil
// (unknown) per dim.
func ShapeDims(shape *onnxpb.TensorShapeProto) []any {
	dims := make([]any, 0, len(shape.GetDim()))
	for _, d := range shape.GetDim() {
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			dims = append(dims, v.DimValue)
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			dims = append(dims, v.DimParam)
		default:
			dims = append(dims, nil)
		}
	}
	return dims
}

// TypeString renders a value type: "FLOAT" for a tensor, "seq(FLOAT)",
// "map(INT64,FLOAT)", "optional(...)", "sparse(FLOAT)", "opaque(domain.name)",
// or "" when the type is not set.
func TypeString(tp *onnxpb.TypeProto) string {
	switch v := tp.GetValue().(type) {
	case *onnxpb.TypeProto_TensorType:
		return DataType(v.TensorType.GetElemType()).String()
	case *onnxpb.TypeProto_SparseTensorType:
		return "sparse(" + DataType(v.SparseTensorType.GetElemType()).String() + ")"
	case *onnxpb.TypeProto_SequenceType:
		return "seq(" + TypeString(v.SequenceType.GetElemType()) + ")"
	case *onnxpb.TypeProto_OptionalType:
		return "optional(" + TypeString(v.OptionalType.GetElemType()) + ")"
	case *onnxpb.TypeProto_MapType:
		return fmt.Sprintf("map(%v,%s)", DataType(v.MapType.GetKeyType()), TypeString(v.MapType.GetValueType()))
	case *onnxpb.TypeProto_OpaqueType:
		return "opaque(" + strings.Trim(v.OpaqueType.GetDomain()+"."+v.OpaqueType.GetName(), ".") + ")"
	}
	return ""
}
