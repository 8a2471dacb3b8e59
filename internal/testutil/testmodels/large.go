package testmodels

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// LargeChain writes (once per folder) dir/large.onnx: a chain of layers
// MatMuls whose float32 [dim, dim] weights (uniform in ±0.025, seeded) live
// in one external data file, dir/large.onnx.data. The data is written
// sequentially, one layer buffer at a time, so generating an 8 GB model
// needs one layer of memory. A "complete" stamp marks a finished model.
func LargeChain(dir string, layers, dim int) (string, error) {
	path := filepath.Join(dir, "large.onnx")
	stamp := filepath.Join(dir, "complete")
	if _, err := os.Stat(stamp); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(dir, "large.onnx.data"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	g := &onnxpb.GraphProto{Name: proto.String("large")}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(dim)}}}}}}}}
	}
	g.Input = []*onnxpb.ValueInfoProto{vi("x0")}
	seed := uint32(2463534242)
	size := int64(dim) * int64(dim) * 4
	layer := make([]byte, size)
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	for l := 0; l < layers; l++ {
		for i := 0; i < dim*dim; i++ {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			v := (float32(seed>>8)/float32(1<<24) - 0.5) * 0.05
			binary.LittleEndian.PutUint32(layer[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(layer); err != nil {
			return "", fmt.Errorf("write %s: %w", f.Name(), err)
		}
		name := "w" + strconv.Itoa(l)
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(1),
			Dims: []int64{int64(dim), int64(dim)}, DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{kv("location", "large.onnx.data"),
				kv("offset", strconv.FormatInt(int64(l)*size, 10)), kv("length", strconv.FormatInt(size, 10))}})
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("MatMul"), Name: proto.String("mm" + strconv.Itoa(l)),
			Input: []string{"x" + strconv.Itoa(l), name}, Output: []string{"x" + strconv.Itoa(l+1)}})
	}
	g.Output = []*onnxpb.ValueInfoProto{vi("x" + strconv.Itoa(layers))}
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
	b, err := proto.Marshal(mp)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(stamp, nil, 0o644)
}
