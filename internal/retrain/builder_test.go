package retrain

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// gb builds small ONNX graphs for tests.
type gb struct {
	g    *onnxpb.GraphProto
	r    *rand.Rand
	elem onnx.DataType
}

func newGB(elem onnx.DataType) *gb {
	return &gb{g: &onnxpb.GraphProto{Name: proto.String("test")}, r: rand.New(rand.NewPCG(7, 8)), elem: elem}
}

func dimsProto(dims []int64) *onnxpb.TensorShapeProto {
	s := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		if d < 0 {
			s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
		} else {
			s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return s
}

func (b *gb) vi(name string, elem onnx.DataType, dims ...int64) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: dimsProto(dims)}}}}
}

func (b *gb) input(name string, dims ...int64) string {
	b.g.Input = append(b.g.Input, b.vi(name, b.elem, dims...))
	return name
}

func (b *gb) output(name string, dims ...int64) {
	b.g.Output = append(b.g.Output, b.vi(name, b.elem, dims...))
}

// weight adds a float initializer with seeded normal values of scale s.
func (b *gb) weight(name string, s float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = s * b.r.NormFloat64()
	}
	return b.values(name, dims, vals)
}

func (b *gb) constant(name string, v float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = v
	}
	return b.values(name, dims, vals)
}

func (b *gb) values(name string, dims []int64, vals []float64) string {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	var err error
	if b.elem == onnx.Double {
		err = onnx.SetValues(t, dims, vals)
	} else {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		err = onnx.SetValues(t, dims, f)
	}
	if err != nil {
		panic(err)
	}
	b.g.Initializer = append(b.g.Initializer, t)
	return name
}

func (b *gb) ints(name string, vals ...int64) string {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	if err := onnx.SetValues(t, []int64{int64(len(vals))}, vals); err != nil {
		panic(err)
	}
	b.g.Initializer = append(b.g.Initializer, t)
	return name
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func (b *gb) node(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) string {
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out + "_" + op),
		Input: in, Output: []string{out}, Attribute: attrs})
	return out
}

func (b *gb) model(opset int64) *onnx.Model {
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: b.g, ProducerName: proto.String("retrain-test"),
		OpsetImport:   []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		MetadataProps: []*onnxpb.StringStringEntryProto{{Key: proto.String("owner"), Value: proto.String("tests")}}}}
}

// save writes the model into dir and returns its path.
func saveModel(t *testing.T, m *onnx.Model, dir, name string, opts onnx.SaveOptions) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := m.Save(p, opts); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeNPY writes a float32 or int64 array of the given shape as .npy.
func writeNPY(t *testing.T, path string, v any, shape ...int) string {
	t.Helper()
	var descr string
	var raw []byte
	switch x := v.(type) {
	case []float32:
		descr = "<f4"
		raw = make([]byte, 4*len(x))
		for i, f := range x {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
	case []int64:
		descr = "<i8"
		raw = make([]byte, 8*len(x))
		for i, n := range x {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(n))
		}
	default:
		t.Fatalf("writeNPY: %T", v)
	}
	dims := ""
	for _, d := range shape {
		dims += fmt.Sprintf("%d,", d)
	}
	if len(shape) > 1 {
		dims = strings.TrimSuffix(dims, ",")
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(raw)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// blobs makes a seeded classification problem: rows of dim values around
// one of k centres, the class being the centre.
func blobs(rows, dim, k int, seed uint64) ([]float32, []int64) {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float64, k*dim)
	for i := range centres {
		centres[i] = 2 * r.NormFloat64()
	}
	x := make([]float32, rows*dim)
	y := make([]int64, rows)
	for i := 0; i < rows; i++ {
		c := r.IntN(k)
		y[i] = int64(c)
		for j := 0; j < dim; j++ {
			x[i*dim+j] = float32(centres[c*dim+j] + r.NormFloat64())
		}
	}
	return x, y
}
