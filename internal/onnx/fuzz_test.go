package onnx_test

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// FuzzDecode feeds arbitrary bytes to the decoder and, when they decode,
// to everything that consumes an untrusted model: checker, summary, graph
// index, typed tensor access and the encoder. None may panic, and a decoded
// model must round-trip. The seed corpus is testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	// External data named "d.bin" resolves to a real 4 KiB file, so offset
	// and length bounds are exercised against an actual mapping.
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "d.bin"), make([]byte, 4096), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := onnx.Decode(b, onnx.WithBaseDir(dir))
		if err != nil {
			return
		}
		_ = onnx.Check(m)
		_ = onnx.Summarize(m)
		if g := m.Proto.GetGraph(); g != nil {
			gr := onnx.NewGraph(g)
			_, _ = gr.Topo()
			gr.Walk(func(*onnx.Graph, *onnxpb.NodeProto) bool { return true })
		}
		for _, tp := range m.Proto.GetGraph().GetInitializer() {
			if onnx.DataBytes(tp) > 1<<24 && onnx.IsExternal(tp) {
				continue
			}
			_, _ = onnx.AsFloat64s(m, tp)
			_, _ = onnx.Strings(tp)
		}
		m.Close()
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		m2, err := onnx.Decode(out)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		if !proto.Equal(m.Proto, m2.Proto) {
			t.Fatal("round trip changed the model")
		}
	})
}
