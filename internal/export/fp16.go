package export

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// DefaultFP16BlockList lists op types left in float32 by --fp16: ops whose
// float inputs are coordinates, scales or sort keys that lose meaning in
// half precision, reductions whose sums overflow its 65504 range, random
// and quantization ops whose float types are fixed by the spec.
func DefaultFP16BlockList() []string {
	return []string{
		"Resize", "Upsample", "TopK", "Range", "NonMaxSuppression", "RoiAlign", "CumSum",
		"ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd",
		"Softplus", "Exp", "Pow",
		"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
		"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "EyeLike",
	}
}

// FP16Options configure the float16 conversion.
type FP16Options struct {
	// KeepIOTypes keeps float32 graph inputs and outputs, with Casts at
	// the boundaries.
	KeepIOTypes bool
	// BlockOps are op types left in float32 (nil: DefaultFP16BlockList()).
	BlockOps []string
	// BlockNodes are node names left in float32; each must exist.
	BlockNodes []string
}

// FP16Report counts what --fp16 changed.
type FP16Report struct {
	NodesConverted      int `json:"nodes_converted"`
	NodesKept           int `json:"nodes_kept_float32"`
	InitializersChanged int `json:"initializers_converted"`
	CastsInserted       int `json:"casts_inserted"`
	ValuesClamped       int `json:"values_clamped"`
	// TypesFromRules is set when the model could not run on synthetic
	// inputs (or is too large to run in memory) and element types came from
	// declarations and op rules.
	TypesFromRules bool `json:"types_from_rules,omitempty"`
	// LoadCheckSkipped says why the result was not loaded into ONNX
	// Runtime to prove it valid (a model too large to hold in memory).
	LoadCheckSkipped string `json:"load_check_skipped,omitempty"`
}

const fp16Max = 65504

// toFloat16 converts model m's float32 computation to float16. Element
// types come from ONNX Runtime (valueTypes); each float value keeps one
// "home" precision and Casts are inserted where a reader needs the other.
func toFloat16(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, st *onnx.TensorStream, o FP16Options) (FP16Report, error) {
	var rep FP16Report
	g := m.Graph()
	nodesByName := map[string]bool{}
	for _, n := range g.Proto.Node {
		nodesByName[n.GetName()] = true
	}
	var missing []string
	for _, b := range o.BlockNodes {
		if !nodesByName[b] {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("--block-nodes: no node named %s in the top-level graph; `mlops inspect --nodes` lists node names", strings.Join(missing, ", "))
	}
	large := tooLargeToRun(m)
	var types map[string]onnx.DataType
	var err error
	if large != "" {
		err = errors.New(large)
	} else {
		types, err = valueTypes(ctx, rt, m)
	}
	if err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		// The model does not run on synthetic inputs: fall back to
		// declared types and per-op rules, and prove the result loads.
		types = staticTypes(g)
		rep.TypesFromRules = true
	}
	blockOps := o.BlockOps
	if blockOps == nil {
		blockOps = DefaultFP16BlockList()
	}
	blocked := func(n *onnxpb.NodeProto) bool {
		return !isDefaultDomain(n) || slices.Contains(blockOps, n.GetOpType()) ||
			slices.Contains(o.BlockNodes, n.GetName()) || len(g.Subgraphs(n)) > 0 || nonTensorOp(n)
	}
	isF32 := func(v string) bool { return v != "" && types[v] == onnx.Float }

	// home[v] is true when float value v is stored as float16.
	home := map[string]bool{}
	for _, in := range g.Proto.Input {
		if isF32(in.GetName()) && !o.KeepIOTypes && g.Initializer(in.GetName()) == nil {
			home[in.GetName()] = true
			setElemType(in, onnx.Float16)
		}
	}
	var scratch []byte // float16 bytes, reused from tensor to tensor
	for _, t := range g.Proto.Initializer {
		if !isF32(t.GetName()) || g.IsInput(t.GetName()) {
			continue
		}
		cs := g.Consumers(t.GetName())
		all := len(cs) > 0
		for _, c := range cs {
			all = all && !blocked(c)
		}
		if !all {
			continue
		}
		n, err := tensorToFloat16(st, t, &scratch)
		if err != nil {
			return rep, onnx.TensorError("initializer", t, err)
		}
		rep.ValuesClamped += n
		rep.InitializersChanged++
		home[t.GetName()] = true
	}
	nodes, err := g.Topo()
	if err != nil {
		return rep, err
	}
	casts := map[string]string{} // "value|16" or "value|32" -> cast output
	castTo := func(v string, half bool, before *onnxpb.NodeProto) (string, error) {
		key := fmt.Sprintf("%s|%v", v, half)
		if c, ok := casts[key]; ok {
			return c, nil
		}
		to, suffix := onnx.Float, "_fp32"
		if half {
			to, suffix = onnx.Float16, "_fp16"
		}
		out := g.UniqueName(v + suffix)
		cast := &onnxpb.NodeProto{Name: ptr(g.UniqueName("Cast" + suffix + "_" + v)), OpType: ptr("Cast"),
			Input: []string{v}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: ptr("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(int64(to))}}}
		if err := g.InsertBefore(before, cast); err != nil {
			return "", err
		}
		casts[key] = out
		rep.CastsInserted++
		return out, nil
	}
	for _, n := range nodes {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		half := !blocked(n)
		if half {
			rep.NodesConverted++
			if err := halfAttributes(m, n, &rep); err != nil {
				return rep, fmt.Errorf("node %s: %w", onnx.NodeLabel(n), err)
			}
		} else {
			rep.NodesKept++
		}
		for i, in := range n.Input {
			if isF32(in) && home[in] != half {
				c, err := castTo(in, half, n)
				if err != nil {
					return rep, err
				}
				n.Input[i] = c
			}
		}
		for _, out := range n.Output {
			if isF32(out) && half {
				home[out] = true
			}
		}
	}
	g.Reindex()
	// Graph outputs: declare float16, or cast back with --keep-io-types.
	for _, out := range g.Proto.Output {
		v := out.GetName()
		if !home[v] {
			continue
		}
		if !o.KeepIOTypes {
			setElemType(out, onnx.Float16)
			continue
		}
		inner := g.UniqueName(v + "_fp16")
		if p := g.Producer(v); p != nil {
			for i, po := range p.Output {
				if po == v {
					p.Output[i] = inner
				}
			}
			for _, c := range g.Consumers(v) {
				for i, ci := range c.Input {
					if ci == v {
						c.Input[i] = inner
					}
				}
			}
		} else {
			return rep, fmt.Errorf("output %s is an initializer; cannot keep its type", v)
		}
		g.Proto.Node = append(g.Proto.Node, &onnxpb.NodeProto{Name: ptr(g.UniqueName("Cast_out_" + v)), OpType: ptr("Cast"),
			Input: []string{inner}, Output: []string{v},
			Attribute: []*onnxpb.AttributeProto{{Name: ptr("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(int64(onnx.Float))}}})
		rep.CastsInserted++
		home[inner] = true
		g.Reindex()
	}
	// value_info must follow the new element types.
	for _, vi := range g.Proto.ValueInfo {
		if home[vi.GetName()] {
			setElemType(vi, onnx.Float16)
		}
	}
	if large != "" {
		rep.LoadCheckSkipped = large
		return rep, nil
	}
	if err := loads(ctx, rt, m); err != nil {
		how := ""
		if rep.TypesFromRules {
			how = "the model does not run on synthetic inputs, so element types came from rules, and "
		}
		return rep, fmt.Errorf("%sthe float16 model does not load in ONNX Runtime (keep the failing node in float32 with --block-nodes or --block-ops): %w", how, err)
	}
	return rep, nil
}

func setElemType(vi *onnxpb.ValueInfoProto, dt onnx.DataType) {
	if tt := vi.GetType().GetTensorType(); tt != nil {
		tt.ElemType = ptr(int32(dt))
	}
}

// tensorToFloat16 rewrites a float32 tensor as float16, clamping to the
// float16 range; it returns how many values were clamped.
func tensorToFloat16(st *onnx.TensorStream, t *onnxpb.TensorProto, scratch *[]byte) (int, error) {
	v, err := st.Float32s(t)
	if err != nil {
		return 0, err
	}
	clamped := 0
	for i, x := range v {
		if x > fp16Max || x < -fp16Max {
			if !math.IsInf(float64(x), 0) {
				clamped++
			}
			v[i] = float32(math.Copysign(fp16Max, float64(x)))
		}
	}
	if cap(*scratch) < 2*len(v) {
		*scratch = make([]byte, 2*len(v))
	}
	half := (*scratch)[:2*len(v)]
	for i, x := range v {
		binary.LittleEndian.PutUint16(half[2*i:], onnx.Float32ToFloat16(x))
	}
	return clamped, st.Set(t, onnx.Float16, append([]int64(nil), t.Dims...), half)
}

// halfAttributes moves the float32 types and tensors held in attributes of
// a converted node to float16 (Cast targets, Constant values,
// ConstantOfShape fill values).
func halfAttributes(m *onnx.Model, n *onnxpb.NodeProto, rep *FP16Report) error {
	if n.GetOpType() == "ConstantOfShape" && onnx.Attr(n, "value") == nil {
		// The default fill is a float32 zero; make it a float16 one.
		t := &onnxpb.TensorProto{}
		if err := onnx.SetFromFloat32s(t, onnx.Float16, []int64{1}, []float32{0}); err != nil {
			return err
		}
		n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: ptr("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t})
		return nil
	}
	for _, a := range n.Attribute {
		switch {
		case n.GetOpType() == "Cast" && a.GetName() == "to" && a.GetI() == int64(onnx.Float):
			a.I = ptr(int64(onnx.Float16))
		case a.T != nil && onnx.TypeOf(a.T) == onnx.Float:
			var scratch []byte
			c, err := tensorToFloat16(onnx.NewTensorStream(m, false), a.T, &scratch)
			if err != nil {
				return err
			}
			rep.ValuesClamped += c
		case n.GetOpType() == "Constant" && (a.GetName() == "value_float" || a.GetName() == "value_floats"):
			vals := a.Floats
			dims := []int64{int64(len(vals))}
			if a.GetName() == "value_float" {
				vals, dims = []float32{a.GetF()}, nil
			}
			t := &onnxpb.TensorProto{}
			if err := onnx.SetFromFloat32s(t, onnx.Float16, dims, clampAll(vals)); err != nil {
				return err
			}
			a.Name, a.Type, a.F, a.Floats, a.T = ptr("value"), onnxpb.AttributeProto_TENSOR.Enum(), nil, nil, t
		}
	}
	return nil
}

func clampAll(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(math.Max(-fp16Max, math.Min(fp16Max, float64(x))))
	}
	return out
}

// loads checks that ONNX Runtime accepts the model.
func loads(ctx context.Context, rt *runtime.Runtime, m *onnx.Model) error {
	c := m.Clone()
	defer c.Close()
	if err := c.InlineExternalData(); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return err
	}
	s, err := rt.NewSessionContext(ctx, b, runtime.SessionOptions{})
	if err != nil {
		return err
	}
	return s.Close()
}
