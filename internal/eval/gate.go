package eval

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mlops-dev/mlops/internal/gate"
)

// GateResult is a gate after evaluation.
type GateResult struct {
	Gate      string `json:"gate"`
	Metric    string `json:"metric"`
	Actual    Num    `json:"actual"`
	Threshold Num    `json:"threshold"`
	Passed    bool   `json:"passed"`
}

// ParseGate parses one --gate expression such as "accuracy>=0.85" or
// "f1_macro>=baseline-0.01" (package gate's syntax with the reference
// "baseline", the --compare model).
func ParseGate(expr string) (gate.Expr, error) { return gate.Parse(expr, "baseline") }

// CheckGates validates gate metrics against the report before any output
// is produced, so typos are usage errors rather than failed gates.
func CheckGates(gates []gate.Expr, r *Report, haveBaseline bool) error {
	if err := gate.CheckMetrics(gates, r.Metrics.Names()); err != nil {
		return err
	}
	for _, g := range gates {
		if g.Ref != "" && !haveBaseline {
			return fmt.Errorf("gate %q compares with the baseline: pass --compare BASELINE", g.Text)
		}
	}
	return nil
}

// ApplyGates evaluates the gates against r (and the baseline's metrics) and
// records the results in r.Gates. An undefined metric (NaN) fails its gate.
func ApplyGates(gates []gate.Expr, r *Report, baseline Metrics) {
	r.Gates = r.Gates[:0]
	for _, g := range gates {
		actual, ref := float64(r.Metrics[g.Metric]), float64(baseline[g.Metric])
		r.Gates = append(r.Gates, GateResult{Gate: g.Text, Metric: g.Metric, Actual: Num(actual), Threshold: Num(g.Threshold(ref)), Passed: g.Holds(actual, ref)})
	}
}

// FailedGates lists the expressions of the gates that did not hold.
func (r *Report) FailedGates() []string {
	var out []string
	for _, g := range r.Gates {
		if !g.Passed {
			out = append(out, fmt.Sprintf("%s (actual %s)", g.Gate, FormatNum(g.Actual)))
		}
	}
	return out
}

// FormatNum prints a metric with up to 4 decimals, or "n/a" when undefined.
func FormatNum(n Num) string {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	if f != math.Trunc(f) || math.Abs(f) < 1e6 {
		s := strconv.FormatFloat(f, 'f', 4, 64)
		return s
	}
	return strconv.FormatFloat(f, 'f', 0, 64)
}
