package onnx_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func TestAttrGetters(t *testing.T) {
	n := &onnxpb.NodeProto{Attribute: []*onnxpb.AttributeProto{
		{Name: proto.String("axis"), I: proto.Int64(-1)},
		{Name: proto.String("perm"), Ints: []int64{0, 2, 1}},
		{Name: proto.String("alpha"), F: proto.Float32(0.5)},
		{Name: proto.String("mode"), S: []byte("nearest")},
	}}
	if got := onnx.AttrInt(n, "axis", 0); got != -1 {
		t.Errorf("AttrInt = %d", got)
	}
	if got := onnx.AttrInt(n, "missing", 7); got != 7 {
		t.Errorf("AttrInt default = %d", got)
	}
	if got := onnx.AttrInts(n, "perm"); !slices.Equal(got, []int64{0, 2, 1}) {
		t.Errorf("AttrInts = %v", got)
	}
	if got := onnx.AttrFloat(n, "alpha", 1); got != 0.5 {
		t.Errorf("AttrFloat = %v", got)
	}
	if got := onnx.AttrString(n, "mode", "linear"); got != "nearest" {
		t.Errorf("AttrString = %q", got)
	}
	if onnx.Attr(n, "nope") != nil || onnx.AttrInts(n, "nope") != nil || onnx.AttrString(n, "nope", "d") != "d" {
		t.Error("missing attribute not reported as absent")
	}
}
