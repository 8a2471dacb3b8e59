package export

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestCorpusStructureOnly: metadata, a safetensors export/import round trip
// and external-data storage must leave ORT's outputs bit-identical.
func TestCorpusStructureOnly(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx := context.Background()
	var ran, identical int
	for i, path := range corpusModels(t, "pytorch-converted", "pytorch-operator", "simple") {
		m, err := onnx.Load(path)
		if err != nil {
			continue
		}
		feeds, err := corpusFeeds(m, filepath.Dir(path))
		if err != nil {
			m.Close()
			continue
		}
		ref, err := encodeRun(ctx, rt, m, feeds)
		if err != nil {
			m.Close()
			continue
		}
		ran++
		dir := t.TempDir()
		setMetadata(m.Proto, map[string]string{"k": "v"})
		w := filepath.Join(dir, "w.safetensors")
		if _, err := exportWeights(ctx, m, w); err != nil {
			t.Fatalf("%s: export weights: %v", path, err)
		}
		if _, err := importWeights(m, w); err != nil {
			t.Fatalf("%s: import weights: %v", path, err)
		}
		out := filepath.Join(dir, fmt.Sprintf("m%d.onnx", i))
		if err := m.Save(out, onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: 1}); err != nil {
			t.Fatalf("%s: save: %v", path, err)
		}
		m.Close()
		s, err := rt.NewSession(out, runtime.SessionOptions{})
		if err != nil {
			t.Errorf("%s: ORT cannot load the external-data copy: %v", path, err)
			continue
		}
		got, err := s.Run(ctx, feeds, nil)
		s.Close()
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		same := len(got) == len(ref)
		for k, r := range ref {
			g := got[k]
			same = same && g != nil && string(g.Data) == string(r.Data) && fmt.Sprint(g.Shape) == fmt.Sprint(r.Shape)
		}
		if !same {
			t.Errorf("%s: outputs changed by structure-only steps", path)
			continue
		}
		identical++
	}
	t.Logf("structure-only (meta, safetensors round trip, external data): %d models ORT runs, %d bit-identical", ran, identical)
}
