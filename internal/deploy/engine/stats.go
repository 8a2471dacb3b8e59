package engine

import "net/http"

import "github.com/mlops-dev/mlops/internal/deploy/oip"

// StatDuration is a count and the total nanoseconds it took (Triton's form).
type StatDuration struct {
	Count int64 `json:"count"`
	Ns    int64 `json:"ns"`
}

// InferenceStats groups the durations of one version.
type InferenceStats struct {
	Success      StatDuration `json:"success"`
	Fail         StatDuration `json:"fail"`
	Queue        StatDuration `json:"queue"`
	ComputeInfer StatDuration `json:"compute_infer"`
}

// ModelStats is one entry of GET /v2/models/.../stats, in the shape Triton
// clients parse.
type ModelStats struct {
	Name           string         `json:"name"`
	Version        string         `json:"version"`
	LastInference  int64          `json:"last_inference"`
	InferenceCount int64          `json:"inference_count"`
	ExecutionCount int64          `json:"execution_count"`
	InferenceStats InferenceStats `json:"inference_stats"`
}

func (d *durationStat) snapshot() StatDuration {
	return StatDuration{Count: d.count.Load(), Ns: d.ns.Load()}
}

// Stats reports per-version statistics: of every model when name is "", of
// one model's serving versions, or of one version.
func (e *Engine) Stats(name, ver string) ([]ModelStats, error) {
	var ms []*model
	if name == "" {
		for _, entry := range e.Index() {
			if m, err := e.get(entry.Name); err == nil && (len(ms) == 0 || ms[len(ms)-1] != m) {
				ms = append(ms, m)
			}
		}
	} else {
		m, err := e.get(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	out := []ModelStats{}
	for _, m := range ms {
		for _, v := range []*version{m.primary.Load(), m.canary.Load()} {
			if v == nil || (ver != "" && v.meta.Version != ver) {
				continue
			}
			s := &v.stats
			out = append(out, ModelStats{
				Name: m.spec.Name, Version: v.meta.Version,
				LastInference:  s.lastInferenceMs.Load(),
				InferenceCount: s.inferences.Load(),
				ExecutionCount: s.executions.Load(),
				InferenceStats: InferenceStats{Success: s.success.snapshot(), Fail: s.fail.snapshot(), Queue: s.queue.snapshot(), ComputeInfer: s.compute.snapshot()},
			})
		}
	}
	if ver != "" && len(out) == 0 {
		return nil, oip.Errorf(http.StatusNotFound, "model %q has no version %q being served", name, ver)
	}
	return out, nil
}
