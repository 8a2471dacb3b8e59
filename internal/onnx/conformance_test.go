package onnx_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil/corpus"
)

var corpusDirs = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// TestConformanceCorpus loads every model of the ONNX backend corpus,
// checks it, and round-trips it: decode → encode → decode must give an
// equal message (unknown fields included) and re-encoding must be stable.
func TestConformanceCorpus(t *testing.T) {
	corpusRoot := corpus.Require(t)
	var loaded, checked, roundTripped, total int
	tmp := t.TempDir()
	for _, dir := range corpusDirs {
		paths, err := filepath.Glob(filepath.Join(corpusRoot, dir, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) == 0 {
			t.Errorf("no models under %s/%s", corpusRoot, dir)
		}
		for _, p := range paths {
			total++
			name := filepath.Join(dir, filepath.Base(filepath.Dir(p)))
			m, err := onnx.Load(p)
			if err != nil {
				t.Errorf("%s: load: %v", name, err)
				continue
			}
			loaded++
			if err := onnx.Check(m); err != nil {
				t.Errorf("%s: %v", name, err)
			} else {
				checked++
			}
			b, err := m.Encode()
			if err != nil {
				t.Errorf("%s: encode: %v", name, err)
				continue
			}
			m2, err := onnx.Decode(b)
			if err != nil {
				t.Errorf("%s: decode of re-encoded bytes: %v", name, err)
				continue
			}
			b2, _ := m2.Encode()
			if !proto.Equal(m.Proto, m2.Proto) || !bytes.Equal(b, b2) {
				t.Errorf("%s: round trip changed the model", name)
				continue
			}
			// And through a file, as Save writes it.
			out := filepath.Join(tmp, "m.onnx")
			if err := m.Save(out, onnx.SaveOptions{}); err != nil {
				t.Errorf("%s: save: %v", name, err)
				continue
			}
			m3, err := onnx.Load(out)
			if err != nil || !proto.Equal(m.Proto, m3.Proto) {
				t.Errorf("%s: saved copy differs (%v)", name, err)
				continue
			}
			roundTripped++
			m.Close()
		}
	}
	t.Logf("ONNX backend corpus: %d models, loaded %d, checked %d, round-tripped %d", total, loaded, checked, roundTripped)
}

// TestProjectModels holds every model committed under testdata/ (the
// Fashion-MNIST models, the synthetic ones) to the same standard.
func TestProjectModels(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/*/*.onnx")
	more, _ := filepath.Glob("../../testdata/*/*/*.onnx")
	paths = append(paths, more...)
	if len(paths) == 0 {
		t.Skip("no models under testdata/")
	}
	for _, p := range paths {
		m, err := onnx.Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if err := onnx.Check(m); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		b, err := m.Encode()
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if m2, err := onnx.Decode(b); err != nil || !proto.Equal(m.Proto, m2.Proto) {
			t.Errorf("%s: round trip failed (%v)", p, err)
		}
		m.Close()
	}
	t.Logf("%d project models load, check and round-trip", len(paths))
}
