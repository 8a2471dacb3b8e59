package tune

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// judge scores a quantize or prune trial's model with eval, against the float model's
// evaluation, which it computes once per run (per float model and data).
type judge struct {
	rt *runtime.Runtime

	mu   sync.Mutex
	base map[string]*eval.Report
}

func newJudge(rt *runtime.Runtime) *judge { return &judge{rt: rt, base: map[string]*eval.Report{}} }

func (j *judge) run(ctx context.Context, model string, ds data.Spec, sess runtime.SessionOptions, latency bool) (*eval.Report, error) {
	req := eval.Request{Model: eval.Model{Path: model}, Data: ds, Session: sess}
	if latency {
		req.LatencyBatchSizes = []int{1} // eval's 50 timed runs
	}
	return eval.Run(ctx, j.rt, req)
}

// baseline is the float model's evaluation, computed by the first trial that needs it.
func (j *judge) baseline(ctx context.Context, model string, ds data.Spec, sess runtime.SessionOptions) (*eval.Report, error) {
	key := fmt.Sprintf("%s|%+v", model, ds)
	j.mu.Lock()
	defer j.mu.Unlock()
	if r, ok := j.base[key]; ok {
		return r, nil
	}
	r, err := j.run(ctx, model, ds, sess, true)
	if err != nil {
		return nil, fmt.Errorf("evaluate the float model %s: %w", model, err)
	}
	j.base[key] = r
	return r, nil
}

// accuracy evaluates a model without timing it.
func (j *judge) accuracy(ctx context.Context, model string, ds data.Spec, sess runtime.SessionOptions) (float64, error) {
	r, err := j.run(ctx, model, ds, sess, false)
	if err != nil {
		return 0, err
	}
	return r.Metric("accuracy"), nil
}

// measure evaluates a trial's model and returns its metrics: eval's (accuracy, f1_macro,
// ...), accuracy_fp32, accuracy_drop (fp32 − trial, a fraction), size_bytes, size_ratio
// (trial / float file size), latency_ms and latency_ms_fp32 (p50 at batch 1).
func (j *judge) measure(ctx context.Context, floatModel, model string, ds data.Spec, sess runtime.SessionOptions) (map[string]float64, error) {
	base, err := j.baseline(ctx, floatModel, ds, sess)
	if err != nil {
		return nil, err
	}
	r, err := j.run(ctx, model, ds, sess, true)
	if err != nil {
		return nil, fmt.Errorf("evaluate the trial's model: %w", err)
	}
	m := map[string]float64{}
	for name, v := range r.Metrics {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
			m[name] = f
		}
	}
	if acc, ok := m["accuracy"]; ok {
		fp := base.Metric("accuracy")
		m["accuracy_fp32"], m["accuracy_drop"] = fp, fp-acc
	}
	m["size_bytes"] = float64(r.ModelSizeBytes)
	if base.ModelSizeBytes > 0 {
		m["size_ratio"] = float64(r.ModelSizeBytes) / float64(base.ModelSizeBytes)
	}
	if len(r.Latency) > 0 {
		m["latency_ms"] = float64(r.Latency[0].P50MS)
	}
	if len(base.Latency) > 0 {
		m["latency_ms_fp32"] = float64(base.Latency[0].P50MS)
	}
	return m, nil
}
