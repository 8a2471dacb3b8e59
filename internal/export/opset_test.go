package export

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestCorpusOpsetUpgrade upgrades every opset 9, 10 and 11 model of the
// backend corpus to 17 and compares ORT's outputs on the corpus inputs.
func TestCorpusOpsetUpgrade(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx := context.Background()
	var considered, converted, refused, ranBefore, loaded, exact, close int
	reasons, rewritten := map[string]int{}, map[string]int{}
	for _, path := range corpusModels(t, "node", "pytorch-converted", "pytorch-operator", "simple") {
		name := filepath.Base(filepath.Dir(path))
		m, err := onnx.Load(path)
		if err != nil {
			continue
		}
		v, _ := onnx.OpsetVersion(m.Proto, "")
		if v < 7 || v > 11 {
			m.Close()
			continue
		}
		considered++
		feeds, ferr := corpusFeeds(m, filepath.Dir(path))
		before := m.Clone()
		rep, err := upgradeOpset(m, 17)
		if err != nil {
			refused++
			first := strings.SplitN(err.Error(), "\n", 3)
			reasons[strings.Join(first[1:2], "")]++
			t.Logf("%s: refused: %v", name, err)
			m.Close()
			before.Close()
			continue
		}
		converted++
		for op, n := range rep.Rewritten {
			rewritten[op] += n
		}
		if err := onnx.Check(m); err != nil {
			t.Errorf("%s: upgraded model fails the checker: %v", name, err)
		}
		if ferr == nil {
			if r, err := encodeRun(ctx, rt, before, feeds); err == nil {
				ranBefore++
				got, err := encodeRun(ctx, rt, m, feeds)
				if err != nil {
					t.Errorf("%s: ORT cannot run the upgraded model: %v", name, err)
				} else {
					loaded++
					var order []string
					for _, o := range before.Proto.Graph.Output {
						order = append(order, o.GetName())
					}
					devs, err := compareOutputs(r, got, order)
					switch {
					case err != nil:
						t.Errorf("%s: %v", name, err)
					case withinTolerance(devs, r, 0, 0):
						exact++
						close++
					case withinTolerance(devs, r, 1e-6, 1e-5):
						close++
					default:
						t.Errorf("%s: upgraded outputs differ: %+v", name, devs)
					}
				}
			}
		}
		m.Close()
		before.Close()
	}
	t.Logf("opset 7-11 -> 17: %d models, %d converted, %d refused; of %d ORT runs before, %d load after, %d identical, %d within 1e-5",
		considered, converted, refused, ranBefore, loaded, exact, close)
	t.Logf("nodes rewritten per op: %v", rewritten)
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("refused %d×: %s", reasons[k], k)
	}
	if considered == 0 {
		t.Fatal("no opset 9-11 models found")
	}
}

func TestOpsetRefusals(t *testing.T) {
	m := fusable(t) // opset 13
	if _, err := upgradeOpset(m, 11); err == nil || !strings.Contains(err.Error(), "downgrades are not supported") {
		t.Errorf("downgrade: %v", err)
	}
	if rep, err := upgradeOpset(m, 13); err != nil || len(rep.Rewritten) != 0 {
		t.Errorf("same opset: %v %v", rep, err)
	}
	m.Proto.OpsetImport[0].Version = ptr(int64(9))
	m.Proto.Graph.Node = append(m.Proto.Graph.Node, node("ImageScaler", []string{"x"}, "scaled"), node("Crop", []string{"x"}, "cropped"))
	_, err := upgradeOpset(m, 17)
	if err == nil || !strings.Contains(err.Error(), "ImageScaler") || !strings.Contains(err.Error(), "Crop") {
		t.Errorf("unconvertible ops not listed: %v", err)
	}
	if v, _ := onnx.OpsetVersion(m.Proto, ""); v != 9 {
		t.Errorf("a refused upgrade changed the opset to %d", v)
	}
}

func ints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func intA(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(v)}
}

func floatA(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: ptr(v)}
}

func floatsA(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// TestOpsetRewrites builds one-node opset-7/9 models for each operator
// whose signature changed and checks ORT computes the same before and after
// the upgrade to 17.
func TestOpsetRewrites(t *testing.T) {
	rt := testutil.Runtime(t)
	cases := []struct {
		name  string
		opset int64
		n     *onnxpb.NodeProto
		outs  int
	}{
		{"Clip", 9, &onnxpb.NodeProto{OpType: ptr("Clip"), Attribute: []*onnxpb.AttributeProto{floatA("min", 0.2), floatA("max", 0.7)}}, 1},
		{"Pad", 9, &onnxpb.NodeProto{OpType: ptr("Pad"), Attribute: []*onnxpb.AttributeProto{ints("pads", 0, 0, 1, 2, 0, 0, 2, 1), floatA("value", 1.5)}}, 1},
		{"Slice", 9, &onnxpb.NodeProto{OpType: ptr("Slice"), Attribute: []*onnxpb.AttributeProto{ints("starts", 1, 0), ints("ends", 3, -1), ints("axes", 2, 3)}}, 1},
		{"TopK", 9, &onnxpb.NodeProto{OpType: ptr("TopK"), Attribute: []*onnxpb.AttributeProto{intA("k", 2)}}, 2},
		{"Unsqueeze", 9, &onnxpb.NodeProto{OpType: ptr("Unsqueeze"), Attribute: []*onnxpb.AttributeProto{ints("axes", 0, 3)}}, 1},
		{"ReduceSum", 9, &onnxpb.NodeProto{OpType: ptr("ReduceSum"), Attribute: []*onnxpb.AttributeProto{ints("axes", 1, 3), intA("keepdims", 0)}}, 1},
		{"ReduceMean", 9, &onnxpb.NodeProto{OpType: ptr("ReduceMean"), Attribute: []*onnxpb.AttributeProto{ints("axes", 2)}}, 1},
		{"Split", 9, &onnxpb.NodeProto{OpType: ptr("Split"), Attribute: []*onnxpb.AttributeProto{intA("axis", 2), ints("split", 1, 3)}}, 2},
		{"Softmax axis 1 of 4-D", 9, &onnxpb.NodeProto{OpType: ptr("Softmax")}, 1},
		{"LogSoftmax axis 2", 9, &onnxpb.NodeProto{OpType: ptr("LogSoftmax"), Attribute: []*onnxpb.AttributeProto{intA("axis", 2)}}, 1},
		{"Upsample-7 nearest", 7, &onnxpb.NodeProto{OpType: ptr("Upsample"), Attribute: []*onnxpb.AttributeProto{floatsA("scales", 1, 1, 2, 3)}}, 1},
		{"Upsample-7 linear", 7, &onnxpb.NodeProto{OpType: ptr("Upsample"), Attribute: []*onnxpb.AttributeProto{floatsA("scales", 1, 1, 2, 2), {Name: ptr("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("linear")}}}, 1},
		{"Dropout", 9, &onnxpb.NodeProto{OpType: ptr("Dropout"), Attribute: []*onnxpb.AttributeProto{floatA("ratio", 0.3)}}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.n
			n.Name = ptr("n")
			n.Input = []string{"x"}
			g := &onnxpb.GraphProto{Name: ptr("g"), Node: []*onnxpb.NodeProto{n},
				Input: []*onnxpb.ValueInfoProto{tensorValueInfo("x", onnx.Float, []int64{2, 3, 4, 4})}}
			for i := 0; i < c.outs; i++ {
				out := "y" + string(rune('0'+i))
				n.Output = append(n.Output, out)
				dt := onnx.Float
				if c.name == "TopK" && i == 1 {
					dt = onnx.Int64
				}
				g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: ptr(out), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
					TensorType: &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(dt))}}}})
			}
			m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: ptr(int64(4)), Graph: g,
				OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(c.opset)}}}}
			before := m.Clone()
			to := int64(17)
			if c.name == "ReduceMean" {
				to = 18 // axes became an input in opset 18
			}
			rep, err := upgradeOpset(m, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rewritten) == 0 {
				t.Errorf("nothing rewritten")
			}
			if err := onnx.Check(m); err != nil {
				t.Fatal(err)
			}
			devs, err := verify(context.Background(), rt, before, m, 9)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range devs {
				if d.MaxAbs > 1e-6 {
					t.Errorf("output %s differs by %g", d.Output, d.MaxAbs)
				}
			}
		})
	}
}
