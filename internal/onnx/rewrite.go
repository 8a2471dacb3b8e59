package onnx

import "fmt"

// LoadForRewrite loads the model at path for a command that rewrites it
// (convert, quantize, prune): its graphs are sorted topologically, as ONNX
// Runtime sorts them on load, and the result must pass Check. A model the
// checker refuses is the input's problem, so the error names the file and
// how to list its problems; the rewriting command can then treat a checker
// failure of its own output as its own bug.
func LoadForRewrite(path string, opts ...LoadOption) (*Model, error) {
	m, err := Load(path, opts...)
	if err != nil {
		return nil, err
	}
	// A failed sort (a cycle, an undefined input) leaves the graph as it
	// was; Check then reports the same defect with its place in the graph.
	_ = m.SortTopologically()
	if err := Check(m); err != nil {
		m.Close()
		return nil, fmt.Errorf("%s does not pass the ONNX checker, so it cannot be rewritten; fix the model first (mlops inspect --check %s lists the problems): %w", path, path, err)
	}
	return m, nil
}
