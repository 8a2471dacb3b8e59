package inspect

import (
	"github.com/mlops-dev/mlops/internal/onnx"
)

// Report is what `mlops inspect` prints: onnx.Summarize's description of
// the model (its fields appear at the top level of the JSON object), plus
// where it was read from and, with --check, the checker's findings. JSON
// field names are a contract (snake_case, never renamed); golden files in
// testdata/golden pin them against values computed independently with
// python3-onnx.
type Report struct {
	Path   string `json:"path"`
	Domain string `json:"domain"` // the model's own domain (reverse-DNS), often empty
	onnx.Summary
	Check *CheckResult `json:"check,omitempty"` // only with --check
}

// CheckResult is the outcome of --check.
type CheckResult struct {
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
}

// Problem is one checker finding.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func newReport(path string, m *onnx.Model) *Report {
	return &Report{Path: path, Domain: m.Proto.GetDomain(), Summary: onnx.Summarize(m)}
}
