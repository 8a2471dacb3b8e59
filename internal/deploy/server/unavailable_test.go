package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
)

// A model that failed to load answers 503 with the reason on its own
// endpoints while the other model serves; the server is ready unless
// readiness is strict.
func TestUnavailableModelIs503WithReasonWhileOthersServe(t *testing.T) {
	for _, strict := range []bool{false, true} {
		l := enginetest.NewLoader()
		bad := enginetest.Reflect("1", 1)
		bad.WarmErr = errors.New("Pad reflect requires axis length >= 2")
		l.Set("vad.onnx", bad)
		l.Set("scale.onnx", enginetest.Scale("1", 2, 4, 0))
		var eng *engine.Engine
		m := NewMetrics(func() *engine.Engine { return eng })
		eng = engine.New(l, engine.Options{Instances: 1, MaxBatchSize: 4, QueueSize: 4, Observer: m})
		if err := eng.Add(context.Background(), engine.Spec{Name: "vad", Ref: "vad.onnx"}); err == nil {
			t.Fatal("vad loaded")
		}
		if err := eng.Add(context.Background(), engine.Spec{Name: "scale", Ref: "scale.onnx"}); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(New(Config{Engine: eng, Metrics: m, StrictReadiness: strict}).Handler())
		st, _, b := do(t, "GET", ts.URL+"/v2/health/ready", nil, nil)
		if strict {
			wantError(t, st, b, 503, "not serving: vad (")
		} else if st != 200 {
			t.Errorf("ready %d %s, want 200 while scale serves", st, b)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v2/models/vad"}, {"GET", "/v2/models/vad/ready"}, {"POST", "/v2/models/vad/infer"},
		} {
			st, _, b := do(t, c.method, ts.URL+c.path, []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
			wantError(t, st, b, 503, "failed to load")
			wantError(t, st, b, 503, "Pad reflect requires axis length")
		}
		st, _, b = do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
		if st != 200 {
			t.Errorf("scale: %d %s", st, b)
		}
		ts.Close()
		eng.Close()
	}
}
