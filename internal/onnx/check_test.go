package onnx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/internal/synth"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func TestCheckAcceptsSynthetic(t *testing.T) {
	for name, mp := range map[string]*onnxpb.ModelProto{"mlp": synth.MLP(1, 4, []int64{8}, 2), "subgraphs": synth.Subgraphs(), "kitchen": synth.Kitchen()} {
		if err := onnx.Check(&onnx.Model{Proto: mp}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckFindsDefects(t *testing.T) {
	body := func(mp *onnxpb.ModelProto) *onnxpb.GraphProto { return mp.Graph.Node[1].Attribute[0].G }
	for _, tc := range []struct {
		name   string
		breakM func(mp *onnxpb.ModelProto)
		want   string // path and message fragment
	}{
		{"undefined input", func(mp *onnxpb.ModelProto) { mp.Graph.Node[0].Input[0] = "ghost" },
			`graph "subgraphs" › node "branch" (If): input "ghost" is not defined (not a graph input`},
		{"use before definition", func(mp *onnxpb.ModelProto) {
			mp.Graph.Node[0], mp.Graph.Node[1] = mp.Graph.Node[1], mp.Graph.Node[0]
		}, `node "loop" (Loop): input "y" is used before node "branch" produces it: the nodes are not in topological order`},
		{"undefined in subgraph", func(mp *onnxpb.ModelProto) { body(mp).Node[1].Input[1] = "nowhere" },
			`node "loop" (Loop) › attribute "body" › graph "body" › node "body_add" (Add): input "nowhere"`},
		{"subgraph sees only earlier outer values", func(mp *onnxpb.ModelProto) { body(mp).Node[1].Input[1] = "dead_out" },
			`node "body_add" (Add): input "dead_out" is used before node "dead" produces it`},
		{"double assignment", func(mp *onnxpb.ModelProto) { mp.Graph.Node[2].Output[0] = "y" },
			`node "dead" (Relu): output "y" is already defined`},
		{"subgraph shadows outer output", func(mp *onnxpb.ModelProto) { body(mp).Node[1].Output[0] = "y"; body(mp).Node[2].Input[0] = "y" },
			`node "body_add" (Add): output "y" is already defined`},
		{"domain not imported", func(mp *onnxpb.ModelProto) { mp.Graph.Node[2].Domain = proto.String("com.example") },
			`node "dead" (Relu): domain "com.example" is used but not in opset_import`},
		{"initializer short data", func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].RawData = mp.Graph.Initializer[0].RawData[:3] },
			`initializer "bias": raw_data holds 3 bytes; FLOAT[4] needs 16`},
		{"initializer typed data", func(mp *onnxpb.ModelProto) {
			init := mp.Graph.Initializer[0]
			init.RawData, init.FloatData = nil, []float32{1, 2}
		}, `initializer "bias": FLOAT[4] needs 4 values in float_data, found 2`},
		{"initializer unknown type", func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].DataType = proto.Int32(77) },
			`data_type 77 is not an ONNX element type`},
		{"untyped main input", func(mp *onnxpb.ModelProto) { mp.Graph.Input[0].Type = nil },
			`graph "subgraphs" › input "x": the input is declared without a type`},
		{"undefined graph output", func(mp *onnxpb.ModelProto) { mp.Graph.Output[0].Name = proto.String("zz") },
			`output "zz": no node, input or initializer defines this graph output`},
		{"no opsets", func(mp *onnxpb.ModelProto) { mp.OpsetImport = nil }, `opset_import is empty`},
		{"escaping external location", func(mp *onnxpb.ModelProto) {
			init := mp.Graph.Initializer[0]
			init.RawData = nil
			init.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			init.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
		}, `initializer "bias": external data location escapes the model folder`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := synth.Subgraphs()
			tc.breakM(mp)
			err := onnx.Check(&onnx.Model{Proto: mp})
			var ce *onnx.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want *CheckError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check said:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// A model loaded from a file whose external data is a symbolic link out of
// its folder, or missing, fails the check (inspect --check reports it); a
// link inside the folder passes.
func TestCheckExternalDataLinks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "m")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := synth.ExternalModel(context.Background(), dir, "m.onnx", 4096, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		return onnx.Check(m)
	}
	if err := check(); err != nil {
		t.Fatalf("fresh model: %v", err)
	}
	data := filepath.Join(dir, "m.onnx.data0")
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("synth wrote no %s: %v", data, err)
	}
	secret := filepath.Join(root, "secret")
	if err := os.Rename(data, secret); err != nil {
		t.Fatal(err)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("missing data file: %v", err)
	}
	if err := os.Symlink(secret, data); err != nil {
		t.Fatal(err)
	}
	var ce *onnx.CheckError
	if err := check(); !errors.As(err, &ce) || !strings.Contains(err.Error(), "is a symbolic link to "+secret) {
		t.Fatalf("link out of the folder: %v", err)
	}
	os.Remove(data)
	if err := os.Rename(secret, filepath.Join(dir, "real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", data); err != nil {
		t.Fatal(err)
	}
	if err := check(); err != nil {
		t.Fatalf("link inside the folder: %v", err)
	}
}
