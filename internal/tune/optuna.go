package tune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// Optuna 3.1's journal operation codes, study directions and trial states.
const (
	optunaCreateStudy = 0
	optunaCreateTrial = 4

	optunaMinimize = 1
	optunaMaximize = 2
)

var optunaState = map[study.State]int{study.Complete: 1, study.Pruned: 2, study.Failed: 3}

// ExportOptunaJournal renders the study as an Optuna 3.1 journal (the format JournalStorage
// with JournalFileStorage reads): one create-study record, then one create-trial record per
// finished trial, carrying its parameters and distributions, values, intermediate values and
// times; mlops' trial number and metrics go into user_attrs. RUNNING trials are left out
// (Optuna would show them running forever); their count is returned.
func ExportOptunaJournal(st *study.Study) (data []byte, skipped int, err error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	dirs := make([]int, len(st.Objectives))
	for i, o := range st.Objectives {
		dirs[i] = optunaMinimize
		if o.Direction == study.Maximize {
			dirs[i] = optunaMaximize
		}
	}
	const worker = "mlops-export"
	if err := enc.Encode(map[string]any{"op_code": optunaCreateStudy, "worker_id": worker, "study_name": st.Name, "directions": dirs}); err != nil {
		return nil, 0, err
	}
	for _, t := range st.Trials {
		state, ok := optunaState[t.State]
		if !ok {
			skipped++
			continue
		}
		dists := map[string]string{}
		params := map[string]float64{}
		for i := range st.Space.Params {
			p := &st.Space.Params[i]
			v, ok := t.Params[p.Name]
			if !ok {
				continue
			}
			d, err := optunaDistribution(p)
			if err != nil {
				return nil, 0, err
			}
			dists[p.Name] = d
			if p.Type == space.Categorical {
				params[p.Name] = p.Internal(v)
			} else {
				params[p.Name] = v.(float64)
			}
		}
		inter := map[string]float64{}
		for _, iv := range t.Intermediate {
			inter[strconv.FormatInt(iv.Step, 10)] = iv.Value
		}
		attrs := map[string]any{"mlops_trial": t.Number}
		if len(t.Metrics) > 0 {
			attrs["metrics"] = t.Metrics
		}
		if t.Message != "" {
			attrs["message"] = t.Message
		}
		rec := map[string]any{"op_code": optunaCreateTrial, "worker_id": worker, "study_id": 0, "state": state,
			"datetime_start": optunaTime(t.Started), "distributions": dists, "params": params,
			"user_attrs": attrs, "system_attrs": map[string]any{}, "intermediate_values": inter,
			"value": nil, "values": nil}
		if !t.Finished.IsZero() {
			rec["datetime_complete"] = optunaTime(t.Finished)
		}
		if t.State == study.Complete {
			if len(t.Values) == 1 {
				rec["value"] = t.Values[0]
			} else {
				rec["values"] = t.Values
			}
		}
		if err := enc.Encode(rec); err != nil {
			return nil, 0, fmt.Errorf("trial %d: %w", t.Number, err)
		}
	}
	return buf.Bytes(), skipped, nil
}

// optunaTime is datetime.isoformat(timespec="microseconds") of a naive local time, which is
// what Optuna writes and reads back with fromisoformat.
func optunaTime(t time.Time) string {
	return t.Local().Format("2006-01-02T15:04:05.000000")
}

// optunaDistribution is distribution_to_json: {"name": ..., "attributes": {...}} as a string.
func optunaDistribution(p *space.Param) (string, error) {
	var d map[string]any
	switch p.Type {
	case space.Float:
		var step any
		if p.Step > 0 {
			step = p.Step
		}
		d = map[string]any{"name": "FloatDistribution", "attributes": map[string]any{"low": p.Low, "high": p.High, "log": p.Log, "step": step}}
	case space.Int:
		step := int64(max(p.Step, 1))
		if p.Log {
			step = 1
		}
		d = map[string]any{"name": "IntDistribution", "attributes": map[string]any{"low": int64(p.Low), "high": int64(p.High), "log": p.Log, "step": step}}
	case space.Categorical:
		d = map[string]any{"name": "CategoricalDistribution", "attributes": map[string]any{"choices": p.Choices}}
	default:
		return "", fmt.Errorf("parameter %s: type %s has no Optuna distribution", p.Name, p.Type)
	}
	b, err := json.Marshal(d)
	return string(b), err
}
