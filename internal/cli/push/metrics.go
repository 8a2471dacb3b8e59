package push

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// readMetrics reads a JSON object and keeps its numeric leaves; nested objects give dotted
// names ({"eval":{"accuracy":0.9}} → eval.accuracy). Strings, booleans and arrays are skipped.
// An `mlops eval --output json` report is stored by its "metrics" object alone, so a version
// pushed from an eval report carries the same names (accuracy, f1_macro, ...) as one pushed by
// retrain or tune, and `ls` and gates see one set of names.
func readMetrics(path string) (map[string]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("--metrics %s: not valid JSON: %w", path, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("--metrics %s: want a JSON object such as {\"accuracy\": 0.91}", path)
	}
	out := map[string]float64{}
	if m, ok := evalMetrics(obj); ok {
		obj = m
	}
	flatten("", obj, out)
	if len(out) == 0 {
		return nil, fmt.Errorf("--metrics %s: no numeric fields found; want a JSON object such as {\"accuracy\": 0.91}", path)
	}
	return out, nil
}

func flatten(prefix string, obj map[string]any, out map[string]float64) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch x := obj[k].(type) {
		case float64:
			out[name] = x
		case map[string]any:
			flatten(name, x, out)
		}
	}
}

// evalMetrics returns the "metrics" object of an eval report (recognised by the fields every
// eval report has: model, task, rows and metrics).
func evalMetrics(obj map[string]any) (map[string]any, bool) {
	m, ok := obj["metrics"].(map[string]any)
	_, model := obj["model"].(string)
	_, task := obj["task"].(string)
	_, rows := obj["rows"].(float64)
	return m, ok && model && task && rows
}
