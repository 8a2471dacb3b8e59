package quant

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

func tvi(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	if len(dims) == 0 {
		shape = nil // unknown rank
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: shape}}}}
}

func randInit(t testing.TB, r *rand.Rand, name string, dims ...int64) *onnxpb.TensorProto {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * 0.3
	}
	tp, err := floatTensor(name, dims, v)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func model(g *onnxpb.GraphProto, opset int64) *onnx.Model {
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}}}
}

func graphAttr(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// convNet: Conv(W1,B1) -> Relu -> Conv(W2 via Identity) -> Add(W2-shaped? no) ...
// and a MatMul branch sharing one weight between two MatMuls, whose weight
// is also read by a float Mul.
func sharedNet(t testing.TB) *onnx.Model {
	r := rand.New(rand.NewPCG(7, 7))
	g := &onnxpb.GraphProto{Name: proto.String("shared"),
		Input:  []*onnxpb.ValueInfoProto{tvi("x", 2, 3, 8, 8), tvi("v", 2, 16)},
		Output: []*onnxpb.ValueInfoProto{tvi("y", 2, 4, 8, 8), tvi("z", 2, 16), tvi("wsum", 16, 16)},
		Initializer: []*onnxpb.TensorProto{randInit(t, r, "W1", 4, 3, 3, 3), randInit(t, r, "B1", 4),
			randInit(t, r, "W2", 4, 4, 3, 3), randInit(t, r, "M", 16, 16)},
		Node: []*onnxpb.NodeProto{
			node("Conv", "", "conv1", []string{"x", "W1", "B1"}, []string{"c1"}, &onnxpb.AttributeProto{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}),
			node("Relu", "", "relu", []string{"c1"}, []string{"r1"}),
			node("Identity", "", "w2id", []string{"W2"}, []string{"W2i"}),
			node("Conv", "", "conv2", []string{"r1", "W2i"}, []string{"y"}, &onnxpb.AttributeProto{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}),
			node("MatMul", "", "mm1", []string{"v", "M"}, []string{"h"}),
			node("MatMul", "", "mm2", []string{"h", "M"}, []string{"z"}),
			node("Mul", "", "float_user", []string{"M", "M"}, []string{"wsum"}),
		},
	}
	return model(g, 13)
}

func sharedInputs() map[string]*runtime.Tensor {
	r := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, 2*3*8*8)
	for i := range x {
		x[i] = r.Float32()
	}
	v := make([]float32, 32)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return map[string]*runtime.Tensor{"x": newF32([]int64{2, 3, 8, 8}, x), "v": newF32([]int64{2, 16}, v)}
}

func runAll(t *testing.T, rt *runtime.Runtime, b []byte, in map[string]*runtime.Tensor, outs []string) map[string][]float32 {
	t.Helper()
	s, err := rt.NewSession(b, runtime.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("ORT rejects the model: %v", err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), in, outs)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]float32{}
	for k, v := range res {
		m[k], _ = v.Float32s()
	}
	return m
}

func TestSharedIdentityAndFloatUsedWeights(t *testing.T) {
	rt := openRuntime(t)
	for _, mf := range []struct {
		mode Mode
		f    Format
	}{{Dynamic, QDQ}, {Static, QDQ}, {Static, QOperator}} {
		mode := mf.mode
		for _, pc := range [][]string{nil, {"all"}} {
			m := sharedNet(t)
			fp := encode(t, m)
			opts := Options{Mode: mode, Format: mf.f, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: pc}
			var ranges map[string]Range
			if mode == Static {
				ranges = map[string]Range{}
				// calibrate on the float model's own activations
				outs := CalibrationTensors(m, opts)
				mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
				for _, o := range outs {
					if o != "x" && o != "v" && o != "y" && o != "z" {
						mp.Graph.Output = append(mp.Graph.Output, tvi(o))
					}
				}
				b, _ := proto.Marshal(mp)
				vals := runAll(t, rt, b, sharedInputs(), append(outs[:0:0], filter(outs, "x", "v")...))
				for _, in := range []string{"x", "v"} {
					f, _ := sharedInputs()[in].Float32s()
					lo, hi := minMax(f)
					ranges[in] = Range{lo, hi}
				}
				for k, v := range vals {
					lo, hi := minMax(v)
					ranges[k] = Range{lo, hi}
				}
			}
			res, err := Quantize(context.Background(), m, opts, ranges)
			if err != nil {
				t.Fatal(err)
			}
			if res.NodesQuantized["Conv"] != 2 || res.NodesQuantized["MatMul"] != 2 {
				t.Fatalf("%s: quantized %v, skipped %v", mode, res.NodesQuantized, res.NodesSkipped)
			}
			// M is shared by two MatMuls: quantized once. The float Mul keeps
			// its float copy; W2 (behind Identity) does not survive in float.
			inits := map[string]bool{}
			for _, i := range m.Proto.Graph.Initializer {
				inits[i.GetName()] = true
			}
			if !inits["M"] || inits["W2"] || inits["W1"] {
				t.Errorf("%s: float initializers left: M=%v (want true) W1=%v W2=%v (want false)", mode, inits["M"], inits["W1"], inits["W2"])
			}
			if res.WeightsQuantized != 3 {
				t.Errorf("%s: %d weights quantized, want 3 (W1, W2, M once)", mode, res.WeightsQuantized)
			}
			outs := []string{"y", "z", "wsum"}
			a := runAll(t, rt, fp, sharedInputs(), outs)
			b := runAll(t, rt, encode(t, m), sharedInputs(), outs)
			for _, o := range outs {
				if c := cosine(a[o], b[o]); c < 0.99 {
					t.Errorf("%s per-channel=%v: output %s cosine %.4f", mode, pc, o, c)
				}
			}
		}
	}
}

func filter(s []string, drop ...string) []string {
	var out []string
	for _, x := range s {
		if !contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// ifNet: an If whose branches MatMul with an outer-scope weight, and a
// Loop whose body does the same.
func subgraphNet(t testing.TB) *onnx.Model {
	r := rand.New(rand.NewPCG(5, 5))
	branch := func(name string, w string) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{Name: proto.String(name), Output: []*onnxpb.ValueInfoProto{tvi(name + "_out")},
			Node: []*onnxpb.NodeProto{node("MatMul", "", name+"_mm", []string{"v", w}, []string{name + "_out"})}}
	}
	body := &onnxpb.GraphProto{Name: proto.String("body"),
		Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("i"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(7), Shape: &onnxpb.TensorShapeProto{}}}}}, {Name: proto.String("cin"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(9), Shape: &onnxpb.TensorShapeProto{}}}}}, tvi("h")},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("cout"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(9)}}}}, tvi("h2")},
		Node: []*onnxpb.NodeProto{
			node("Identity", "", "cond", []string{"cin"}, []string{"cout"}),
			node("MatMul", "", "loop_mm", []string{"h", "L"}, []string{"h2"}),
		}}
	trip, _ := int64Tensor("trip", nil, []int64{3})
	g := &onnxpb.GraphProto{Name: proto.String("sub"),
		Input:       []*onnxpb.ValueInfoProto{tvi("v", 2, 16), {Name: proto.String("c"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(9), Shape: &onnxpb.TensorShapeProto{}}}}}},
		Output:      []*onnxpb.ValueInfoProto{tvi("o"), tvi("lo")},
		Initializer: []*onnxpb.TensorProto{randInit(t, r, "A", 16, 16), randInit(t, r, "B", 16, 16), randInit(t, r, "L", 16, 16), trip},
		Node: []*onnxpb.NodeProto{
			node("If", "", "if", []string{"c"}, []string{"o"}, graphAttr("then_branch", branch("then", "A")), graphAttr("else_branch", branch("else", "B"))),
			node("Loop", "", "loop", []string{"trip", "c", "v"}, []string{"lo"}, graphAttr("body", body)),
		}}
	return model(g, 13)
}

func TestSubgraphsDynamic(t *testing.T) {
	rt := openRuntime(t)
	m := subgraphNet(t)
	fp := encode(t, m)
	res, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.NodesQuantized["MatMul"] != 3 {
		t.Fatalf("quantized %v skipped %v; want the 3 MatMuls inside If and Loop bodies", res.NodesQuantized, res.NodesSkipped)
	}
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 32)
	for i := range v {
		v[i] = r.Float32()
	}
	for _, cond := range []bool{true, false} {
		in := map[string]*runtime.Tensor{"v": newF32([]int64{2, 16}, v), "c": runtime.NewTensorBool(nil, []bool{cond})}
		a := runAll(t, rt, fp, in, []string{"o", "lo"})
		b := runAll(t, rt, encode(t, m), in, []string{"o", "lo"})
		for _, o := range []string{"o", "lo"} {
			if c := cosine(a[o], b[o]); c < 0.99 {
				t.Errorf("cond=%v output %s cosine %.4f", cond, o, c)
			}
		}
	}
}

func TestSubgraphsStatic(t *testing.T) {
	rt := openRuntime(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, f := range []Format{QDQ, QOperator} {
		m := subgraphNet(t)
		fp := encode(t, m)
		opts := Options{Mode: Static, Format: f, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true}
		// Two calibration batches, one per branch of the If.
		var batches []*data.Batch
		for _, cond := range []byte{1, 0} {
			v := make([]float32, 32)
			for i := range v {
				v[i] = r.Float32()
			}
			batches = append(batches, &data.Batch{Rows: 2, Inputs: map[string]*data.Tensor{
				"v": {DType: data.Float32, Shape: []int64{2, 16}, Data: f32bytes(v)},
				"c": {DType: data.Bool, Shape: []int64{}, Data: []byte{cond}}}})
		}
		ranges, st, err := Calibrate(context.Background(), rt, m, CalibrationTensors(m, opts), &batchList{b: batches}, CalibrationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"then_out", "else_out", "h", "h2"} {
			if _, ok := ranges[name]; !ok {
				t.Errorf("%s: no range for body tensor %s (have %v)", f, name, ranges)
			}
		}
		res, err := Quantize(context.Background(), m, opts, ranges)
		if err != nil {
			t.Fatal(err)
		}
		if res.NodesQuantized["MatMul"] != 3 {
			t.Fatalf("%s: quantized %v skipped %v; want the 3 body MatMuls (calibrated %d tensors)", f, res.NodesQuantized, res.NodesSkipped, st.Tensors)
		}
		v := make([]float32, 32)
		for i := range v {
			v[i] = r.Float32()
		}
		for _, cond := range []bool{true, false} {
			in := map[string]*runtime.Tensor{"v": newF32([]int64{2, 16}, v), "c": runtime.NewTensorBool(nil, []bool{cond})}
			a := runAll(t, rt, fp, in, []string{"o", "lo"})
			b := runAll(t, rt, encode(t, m), in, []string{"o", "lo"})
			for _, o := range []string{"o", "lo"} {
				if c := cosine(a[o], b[o]); c < 0.99 {
					t.Errorf("%s cond=%v output %s cosine %.4f", f, cond, o, c)
				}
			}
		}
	}
}

type batchList struct{ b []*data.Batch }

func (l *batchList) Next(context.Context) (*data.Batch, error) {
	if len(l.b) == 0 {
		return nil, io.EOF
	}
	b := l.b[0]
	l.b = l.b[1:]
	return b, nil
}
func (l *batchList) Rows() int64              { return -1 }
func (l *batchList) Inputs() []data.InputInfo { return nil }
func (l *batchList) HasLabels() bool          { return false }
func (l *batchList) Close() error             { return nil }

func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}
