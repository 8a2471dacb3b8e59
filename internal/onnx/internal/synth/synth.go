// Package synth builds synthetic ONNX models for tests, benchmarks and the
// committed files under testdata/synthetic. Values are deterministic for a
// given seed so generated files are reproducible byte for byte.
package synth

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Opset is the ai.onnx opset the synthetic models import.
const Opset = 17

func s(v string) *string { return &v }
func i64(v int64) *int64 { return &v }

// ValueInfo is a tensor value_info with the given type and dims; a dim < 0
// becomes the symbolic dim "batch".
func ValueInfo(name string, dt onnx.DataType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		if d < 0 {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
		} else {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	et := int32(dt)
	return &onnxpb.ValueInfoProto{Name: s(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et, Shape: shape}}}}
}

// Node builds a node in the default domain.
func Node(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: s(op), Name: s(name), Input: in, Output: out, Attribute: attrs}
}

// GraphAttr is a GRAPH attribute.
func GraphAttr(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_GRAPH
	return &onnxpb.AttributeProto{Name: s(name), Type: &t, G: g}
}

// Model wraps a graph in a ModelProto with IR 8 (what Debian's python3-onnx 1.12 checks) and the default opset.
func Model(g *onnxpb.GraphProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:       i64(8),
		ProducerName:    s("mlops-synth"),
		ProducerVersion: s("1"),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(Opset)}},
		Graph:           g,
	}
}

// Float32Init is a FLOAT initializer with values drawn from rng.
func Float32Init(name string, rng *rand.Rand, dims ...int64) *onnxpb.TensorProto {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 0.1)
	}
	t := &onnxpb.TensorProto{Name: s(name)}
	if err := onnx.SetValues(t, dims, vals); err != nil {
		panic(err) // dims and values are built together above
	}
	return t
}

// MLP is input [batch,in] → (MatMul, Add, Relu) × len(hidden) → output
// [batch,out]: the shape of model an optimizer sees most often.
func MLP(seed uint64, in int64, hidden []int64, out int64) *onnxpb.ModelProto {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := &onnxpb.GraphProto{Name: s("mlp"), Input: []*onnxpb.ValueInfoProto{ValueInfo("input", onnx.Float, -1, in)}}
	prev, width := "input", in
	layers := append(append([]int64(nil), hidden...), out)
	for i, h := range layers {
		w, b := fmt.Sprintf("w%d", i), fmt.Sprintf("b%d", i)
		g.Initializer = append(g.Initializer, Float32Init(w, rng, width, h), Float32Init(b, rng, h))
		mm, add := fmt.Sprintf("mm%d", i), fmt.Sprintf("add%d", i)
		g.Node = append(g.Node, Node("MatMul", mm, []string{prev, w}, []string{mm + "_out"}))
		o := add + "_out"
		if i == len(layers)-1 {
			o = "output"
		}
		g.Node = append(g.Node, Node("Add", add, []string{mm + "_out", b}, []string{o}))
		if i < len(layers)-1 {
			r := fmt.Sprintf("relu%d", i)
			g.Node = append(g.Node, Node("Relu", r, []string{o}, []string{r + "_out"}))
			o = r + "_out"
		}
		prev, width = o, h
	}
	g.Output = []*onnxpb.ValueInfoProto{ValueInfo("output", onnx.Float, -1, out)}
	return Model(g)
}

// Subgraphs is a model with an If whose branches use an outer-scope
// initializer, and a Loop whose body holds its own initializer and a
// nested Identity: the cases graph walkers and the checker must handle.
func Subgraphs() *onnxpb.ModelProto {
	rng := rand.New(rand.NewPCG(7, 1))
	then := &onnxpb.GraphProto{Name: s("then"),
		Node:   []*onnxpb.NodeProto{Node("Add", "then_add", []string{"x", "bias"}, []string{"then_out"})},
		Output: []*onnxpb.ValueInfoProto{ValueInfo("then_out", onnx.Float, 4)}}
	els := &onnxpb.GraphProto{Name: s("else"),
		Node:   []*onnxpb.NodeProto{Node("Sub", "else_sub", []string{"x", "bias"}, []string{"else_out"})},
		Output: []*onnxpb.ValueInfoProto{ValueInfo("else_out", onnx.Float, 4)}}
	body := &onnxpb.GraphProto{Name: s("body"),
		Input:       []*onnxpb.ValueInfoProto{ValueInfo("iter", onnx.Int64), ValueInfo("cond_in", onnx.Bool), ValueInfo("acc_in", onnx.Float, 4)},
		Initializer: []*onnxpb.TensorProto{Float32Init("step", rng, 4)},
		Node: []*onnxpb.NodeProto{
			Node("Identity", "body_cond", []string{"cond_in"}, []string{"cond_out"}),
			Node("Add", "body_add", []string{"acc_in", "step"}, []string{"acc_sum"}),
			Node("Mul", "body_mul", []string{"acc_sum", "scale"}, []string{"acc_out"}),
		},
		Output: []*onnxpb.ValueInfoProto{ValueInfo("cond_out", onnx.Bool), ValueInfo("acc_out", onnx.Float, 4)}}
	trip := &onnxpb.TensorProto{Name: s("trip")}
	_ = onnx.SetValues(trip, nil, []int64{3})
	g := &onnxpb.GraphProto{Name: s("subgraphs"),
		Input: []*onnxpb.ValueInfoProto{ValueInfo("x", onnx.Float, 4), ValueInfo("flag", onnx.Bool)},
		Initializer: []*onnxpb.TensorProto{Float32Init("bias", rng, 4), Float32Init("scale", rng, 4), trip,
			Float32Init("unused", rng, 8)},
		Node: []*onnxpb.NodeProto{
			Node("If", "branch", []string{"flag"}, []string{"y"}, GraphAttr("then_branch", then), GraphAttr("else_branch", els)),
			Node("Loop", "loop", []string{"trip", "", "y"}, []string{"z"}, GraphAttr("body", body)),
			Node("Relu", "dead", []string{"x"}, []string{"dead_out"}),
		},
		Output: []*onnxpb.ValueInfoProto{ValueInfo("z", onnx.Float, 4)}}
	return Model(g)
}

// ExternalModel writes dir/name (a chain of Add nodes over nTensors float32
// initializers totalling about totalBytes) with its data split over nFiles
// external files, streaming the bytes so memory stays small whatever the
// size. It returns the model path.
func ExternalModel(ctx context.Context, dir, name string, totalBytes int64, nTensors, nFiles int) (string, error) {
	if nTensors < 1 || nFiles < 1 || nFiles > nTensors {
		return "", fmt.Errorf("need 1 <= files (%d) <= tensors (%d)", nFiles, nTensors)
	}
	elems := totalBytes / 4 / int64(nTensors)
	if elems < 1 {
		elems = 1
	}
	g := &onnxpb.GraphProto{Name: s("external"), Input: []*onnxpb.ValueInfoProto{ValueInfo("x", onnx.Float, elems)}}
	perFile := (nTensors + nFiles - 1) / nFiles
	buf := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(uint64(totalBytes), uint64(nTensors)))
	for i := range buf {
		buf[i] = byte(rng.UintN(256))
	}
	prev := "x"
	var (
		f   *os.File
		w   *bufio.Writer
		off int64
		loc string
	)
	closeFile := func() error {
		if f == nil {
			return nil
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	for i := 0; i < nTensors; i++ {
		if i%perFile == 0 {
			if err := closeFile(); err != nil {
				return "", err
			}
			loc = name + ".data" + strconv.Itoa(i/perFile)
			var err error
			if f, err = os.Create(filepath.Join(dir, loc)); err != nil {
				return "", err
			}
			w, off = bufio.NewWriterSize(f, 1<<20), 0
		}
		size := elems * 4
		for left := size; left > 0; {
			if err := ctx.Err(); err != nil {
				_ = closeFile() // the first error is the one to report
				return "", err
			}
			chunk := min(left, int64(len(buf)))
			// Vary the pattern per tensor so data is not trivially compressible or deduplicated.
			buf[0] = byte(i)
			if _, err := w.Write(buf[:chunk]); err != nil {
				_ = closeFile() // the first error is the one to report
				return "", err
			}
			left -= chunk
		}
		wname := fmt.Sprintf("w%d", i)
		loc0 := onnxpb.TensorProto_EXTERNAL
		dt := int32(onnx.Float)
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: s(wname), Dims: []int64{elems}, DataType: &dt,
			DataLocation: &loc0, ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: s("location"), Value: s(loc)},
				{Key: s("offset"), Value: s(strconv.FormatInt(off, 10))},
				{Key: s("length"), Value: s(strconv.FormatInt(size, 10))}}})
		off += size
		out := fmt.Sprintf("h%d", i)
		if i == nTensors-1 {
			out = "y"
		}
		g.Node = append(g.Node, Node("Add", fmt.Sprintf("add%d", i), []string{prev, wname}, []string{out}))
		prev = out
	}
	if err := closeFile(); err != nil {
		return "", err
	}
	g.Output = []*onnxpb.ValueInfoProto{ValueInfo("y", onnx.Float, elems)}
	b, err := proto.Marshal(Model(g))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b, 0o644)
}
