package inspect

import (
	"math"
	"sort"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Report is what `mlops inspect` prints. Its JSON field names are a
// contract (snake_case, never renamed); golden files in testdata/golden pin
// them against values computed independently with python3-onnx.
type Report struct {
	Path                string                `json:"path"`
	IRVersion           int64                 `json:"ir_version"`
	ProducerName        string                `json:"producer_name"`
	ProducerVersion     string                `json:"producer_version"`
	Domain              string                `json:"domain"`
	ModelVersion        int64                 `json:"model_version"`
	GraphName           string                `json:"graph_name"`
	Opsets              map[string]int64      `json:"opsets"` // domain ("ai.onnx" for the default) → version
	Inputs              []Value               `json:"inputs"` // graph inputs that are not initializers
	Outputs             []Value               `json:"outputs"`
	Nodes               int                   `json:"nodes"`          // all nodes, subgraphs included
	SubgraphNodes       int                   `json:"subgraph_nodes"` // of which inside If/Loop/Scan bodies
	Subgraphs           int                   `json:"subgraphs"`
	OpTypes             map[string]int        `json:"op_types"`          // op (or "domain:op") → count, subgraphs included
	SubgraphOpTypes     map[string]int        `json:"subgraph_op_types"` // the part of op_types inside subgraphs
	Initializers        int                   `json:"initializers"`
	SparseInitializers  int                   `json:"sparse_initializers"`
	Parameters          int64                 `json:"parameters"`        // elements of all main-graph initializers
	InitializerBytes    int64                 `json:"initializer_bytes"` // their stored size
	InitializersByDType map[string]DTypeStats `json:"initializers_by_dtype"`
	ExternalData        []ExternalFile        `json:"external_data"`
	MetadataProps       map[string]string     `json:"metadata_props"`
	Functions           int                   `json:"functions"`
	Check               *CheckResult          `json:"check,omitempty"` // only with --check
}

// Value describes a graph input or output. Shape holds an integer for a
// fixed dimension, a string for a symbolic one, null for an unknown one;
// Shape itself is null when the rank is unknown.
type Value struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

// DTypeStats sums the initializers of one element type.
type DTypeStats struct {
	Count      int   `json:"count"`
	Parameters int64 `json:"parameters"`
	Bytes      int64 `json:"bytes"`
}

// ExternalFile is one external data file the model refers to.
type ExternalFile struct {
	Location string `json:"location"`
	Tensors  int    `json:"tensors"`
	Bytes    int64  `json:"bytes"`
}

// CheckResult is the outcome of --check.
type CheckResult struct {
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
}

// Problem is one checker finding.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

const defaultDomain = "ai.onnx"

// newReport describes a model from its protobuf alone: no tensor bytes are
// read, so it is fast on models with gigabytes of external data.
func newReport(path string, mp *onnxpb.ModelProto) *Report {
	g := mp.GetGraph()
	r := &Report{
		Path:                path,
		IRVersion:           mp.GetIrVersion(),
		ProducerName:        mp.GetProducerName(),
		ProducerVersion:     mp.GetProducerVersion(),
		Domain:              mp.GetDomain(),
		ModelVersion:        mp.GetModelVersion(),
		GraphName:           g.GetName(),
		Opsets:              map[string]int64{},
		Inputs:              []Value{},
		Outputs:             []Value{},
		OpTypes:             map[string]int{},
		SubgraphOpTypes:     map[string]int{},
		InitializersByDType: map[string]DTypeStats{},
		ExternalData:        []ExternalFile{},
		MetadataProps:       map[string]string{},
		Functions:           len(mp.GetFunctions()),
		Initializers:        len(g.GetInitializer()),
		SparseInitializers:  len(g.GetSparseInitializer()),
	}
	for _, o := range mp.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = defaultDomain
		}
		r.Opsets[d] = o.GetVersion()
	}
	for _, p := range mp.GetMetadataProps() {
		r.MetadataProps[p.GetKey()] = p.GetValue()
	}

	inits := make(map[string]bool, len(g.GetInitializer()))
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			r.Inputs = append(r.Inputs, valueOf(vi))
		}
	}
	for _, vi := range g.GetOutput() {
		r.Outputs = append(r.Outputs, valueOf(vi))
	}

	r.countNodes(g.GetNode(), 0)
	r.sumInitializers(g.GetInitializer())
	return r
}

func (r *Report) countNodes(nodes []*onnxpb.NodeProto, depth int) {
	for _, n := range nodes {
		key := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != defaultDomain {
			key = d + ":" + key
		}
		r.Nodes++
		r.OpTypes[key]++
		if depth > 0 {
			r.SubgraphNodes++
			r.SubgraphOpTypes[key]++
		}
		for _, a := range n.GetAttribute() {
			var subs []*onnxpb.GraphProto
			switch a.GetType() {
			case onnxpb.AttributeProto_GRAPH:
				subs = []*onnxpb.GraphProto{a.GetG()}
			case onnxpb.AttributeProto_GRAPHS:
				subs = a.GetGraphs()
			}
			for _, sg := range subs {
				r.Subgraphs++
				r.countNodes(sg.GetNode(), depth+1)
			}
		}
	}
}

func (r *Report) sumInitializers(inits []*onnxpb.TensorProto) {
	files := map[string]*ExternalFile{}
	for _, t := range inits {
		dt := onnx.DataType(t.GetDataType())
		n := elements(t.GetDims())
		size := storedBytes(t, dt, n)
		r.Parameters = satAdd(r.Parameters, n)
		r.InitializerBytes = satAdd(r.InitializerBytes, size)
		s := r.InitializersByDType[dt.String()]
		s.Count++
		s.Parameters = satAdd(s.Parameters, n)
		s.Bytes = satAdd(s.Bytes, size)
		r.InitializersByDType[dt.String()] = s
		if onnx.IsExternal(t) {
			loc := "(invalid external data)"
			if e, err := onnx.ExternalDataOf(t); err == nil {
				loc = e.Location
			}
			f := files[loc]
			if f == nil {
				f = &ExternalFile{Location: loc}
				files[loc] = f
			}
			f.Tensors++
			f.Bytes = satAdd(f.Bytes, size)
		}
	}
	for _, f := range files {
		r.ExternalData = append(r.ExternalData, *f)
	}
	sort.Slice(r.ExternalData, func(i, j int) bool { return r.ExternalData[i].Location < r.ExternalData[j].Location })
}

// storedBytes is the size of a tensor's data as stored: the external
// length, the raw_data length, or what the typed fields hold.
func storedBytes(t *onnxpb.TensorProto, dt onnx.DataType, n int64) int64 {
	if onnx.IsExternal(t) {
		if e, err := onnx.ExternalDataOf(t); err == nil && e.Length >= 0 {
			return e.Length
		}
	} else if len(t.GetRawData()) > 0 {
		return int64(len(t.GetRawData()))
	}
	if dt == onnx.String {
		var s int64
		for _, b := range t.GetStringData() {
			s += int64(len(b))
		}
		return s
	}
	if b := dt.StorageBytes(n); b >= 0 {
		return b
	}
	return 0
}

// elements multiplies dims, saturating instead of overflowing on a hostile
// file; negative dims count as zero.
func elements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		if d <= 0 {
			return 0
		}
		if n > math.MaxInt64/d {
			return math.MaxInt64
		}
		n *= d
	}
	return n
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func valueOf(vi *onnxpb.ValueInfoProto) Value {
	return Value{Name: vi.GetName(), DType: typeString(vi.GetType()), Shape: shapeOf(vi.GetType())}
}

// typeString names a value's type: "FLOAT" for a tensor, and
// seq(...), map(K,V), optional(...), sparse_tensor(...) for the others.
func typeString(tp *onnxpb.TypeProto) string {
	switch {
	case tp.GetTensorType() != nil:
		return onnx.DataType(tp.GetTensorType().GetElemType()).String()
	case tp.GetSparseTensorType() != nil:
		return "sparse_tensor(" + onnx.DataType(tp.GetSparseTensorType().GetElemType()).String() + ")"
	case tp.GetSequenceType() != nil:
		return "seq(" + typeString(tp.GetSequenceType().GetElemType()) + ")"
	case tp.GetMapType() != nil:
		m := tp.GetMapType()
		return "map(" + onnx.DataType(m.GetKeyType()).String() + "," + typeString(m.GetValueType()) + ")"
	case tp.GetOptionalType() != nil:
		return "optional(" + typeString(tp.GetOptionalType().GetElemType()) + ")"
	}
	return "unknown"
}

func shapeOf(tp *onnxpb.TypeProto) []any {
	var shape *onnxpb.TensorShapeProto
	switch {
	case tp.GetTensorType() != nil:
		shape = tp.GetTensorType().GetShape()
	case tp.GetSparseTensorType() != nil:
		shape = tp.GetSparseTensorType().GetShape()
	}
	if shape == nil {
		return nil
	}
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
