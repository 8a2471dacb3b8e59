package registry

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"m", "m@1", "m@prod", "../x", "m@", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		back, err := ParseRef(r.String())
		if err != nil || back != r {
			t.Fatalf("%q parsed to %+v, which formats to %q and re-parses to %+v, %v", s, r, r.String(), back, err)
		}
		if ValidateRelPath(r.Name) != nil {
			t.Fatalf("accepted name %q is not a safe path segment", r.Name)
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"name":"m","version":1,"size":1,"files":[{"path":"m.onnx","sha256":"` +
		string(bytes.Repeat([]byte("a"), 64)) + `","size":1,"role":"model"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if ValidateRelPath(file.Path) != nil || !validDigest(file.SHA256) {
				t.Fatalf("accepted unsafe file entry %+v", file)
			}
		}
	})
}

func FuzzScanModel(f *testing.F) {
	dir := f.TempDir()
	for _, ext := range [][]byte{nil, []byte("wwww")} {
		data, err := os.ReadFile(writeModel(f, dir, "m.onnx", ext))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fmnist", "mlp.onnx")); err == nil && len(data) < 1<<16 {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := scanModel(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, p := range s.ExternalFiles {
			if ValidateRelPath(p) != nil {
				t.Fatalf("scan accepted external data path %q", p)
			}
		}
	})
}

func TestScanProjectModel(t *testing.T) {
	p := filepath.Join("..", "..", "testdata", "fmnist", "mlp.onnx")
	fh, err := os.Open(p)
	if err != nil {
		t.Skipf("project model not generated yet: %v", err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	s, err := scanModel(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	in, out := s.Signature.Inputs, s.Signature.Outputs
	if len(in) != 1 || in[0].Name != "input" || in[0].DataType != "FLOAT" || len(in[0].Shape) != 4 || in[0].Shape[0] != -1 {
		t.Fatalf("inputs %+v", in)
	}
	if len(out) != 1 || out[0].Name != "logits" {
		t.Fatalf("outputs %+v", out)
	}
}
