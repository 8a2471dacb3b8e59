package export

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
)

func stFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := fusable(t)
	w := filepath.Join(dir, "w.safetensors")
	n, err := exportWeights(context.Background(), m, w)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(m.Proto.Graph.Initializer) {
		t.Fatalf("exported %d of %d initializers", n, len(m.Proto.Graph.Initializer))
	}
	// Change a weight in the file's source, import the original back.
	orig, _ := onnx.Float32s(m, m.Proto.Graph.Initializer[0])
	changed := fusable(t)
	zero := make([]float32, len(orig))
	if err := onnx.SetValues(changed.Proto.Graph.Initializer[0], changed.Proto.Graph.Initializer[0].Dims, zero); err != nil {
		t.Fatal(err)
	}
	if _, err := importWeights(changed, w); err != nil {
		t.Fatal(err)
	}
	got, _ := onnx.Float32s(changed, changed.Proto.Graph.Initializer[0])
	for i := range got {
		if got[i] != orig[i] {
			t.Fatalf("element %d: %v after import, want %v", i, got[i], orig[i])
		}
	}
}

func TestSafetensorsImportMismatch(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	data := make([]byte, 8)
	if err := os.WriteFile(bad, stFile(`{"W":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"nosuch":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, data), 0o644); err != nil {
		t.Fatal(err)
	}
	m := fusable(t)
	before, _ := onnx.Float32s(m, m.Proto.Graph.Initializer[0])
	_, err := importWeights(m, bad)
	if err == nil || !strings.Contains(err.Error(), "W: file has shape [2], model has [4 2 3 3]") || !strings.Contains(err.Error(), "nosuch: no initializer") {
		t.Fatalf("err = %v", err)
	}
	after, _ := onnx.Float32s(m, m.Proto.Graph.Initializer[0])
	if after[0] != before[0] {
		t.Error("a failed import changed the model")
	}
}

func TestDecodeSTHeaderErrors(t *testing.T) {
	cases := map[string][]byte{
		"short":        {1, 2},
		"huge header":  {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		"not json":     stFile("nope", nil),
		"bad dtype":    stFile(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"size":         stFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"gap":          stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"trailing":     stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"neg shape":    stFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"overflow":     stFile(`{"a":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, nil),
		"bad metadata": stFile(`{"__metadata__":{"a":1}}`, nil),
	}
	for name, b := range cases {
		if _, err := DecodeSTHeader(b, int64(len(b))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := stFile(`{"__metadata__":{"k":"v"},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 12))
	h, err := DecodeSTHeader(ok, int64(len(ok)))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != 2 || h.Tensors[0].Name != "a" || h.Metadata["k"] != "v" {
		t.Errorf("header %+v", h)
	}
}

// FuzzDecodeSTHeader: arbitrary bytes never panic, and an accepted header
// describes a data section that tiles the rest of the file exactly.
func FuzzDecodeSTHeader(f *testing.F) {
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(stFile(`{"__metadata__":{"format":"pt"}}`, nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeSTHeader(b, int64(len(b)))
		if err != nil {
			return
		}
		total := int64(0)
		for _, tn := range h.Tensors {
			total += tn.End - tn.Begin
		}
		if h.DataOff+total != int64(len(b)) {
			t.Fatalf("accepted header covers %d bytes of %d", h.DataOff+total, len(b))
		}
	})
}
