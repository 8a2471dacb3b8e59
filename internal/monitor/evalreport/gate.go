package evalreport

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Gate is a parsed --gate expression: METRIC OP VALUE where VALUE is a
// number, "baseline", or "baseline+N" / "baseline-N" (the same metric on
// the --compare model).
type Gate struct {
	Expr       string
	Metric     string
	Op         string
	Value      float64
	UsesBase   bool
	BaseOffset float64
}

// GateResult is a gate after evaluation.
type GateResult struct {
	Gate      string `json:"gate"`
	Metric    string `json:"metric"`
	Actual    Num    `json:"actual"`
	Threshold Num    `json:"threshold"`
	Passed    bool   `json:"passed"`
}

var gateRE = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(\S.*?)\s*$`)

// ParseGate parses one expression such as "accuracy>=0.85" or
// "f1_macro>=baseline-0.01".
func ParseGate(expr string) (Gate, error) {
	m := gateRE.FindStringSubmatch(expr)
	if m == nil {
		return Gate{}, fmt.Errorf("gate %q: want METRIC OP VALUE, e.g. 'accuracy>=0.85' or 'f1_macro>=baseline-0.01' (OP is >=, <=, >, <, == or !=)", expr)
	}
	g := Gate{Expr: strings.TrimSpace(expr), Metric: m[1], Op: m[2]}
	v := strings.ReplaceAll(m[3], " ", "")
	if rest, ok := strings.CutPrefix(v, "baseline"); ok {
		g.UsesBase = true
		if rest != "" {
			off, err := strconv.ParseFloat(rest, 64)
			if err != nil || (rest[0] != '+' && rest[0] != '-') {
				return Gate{}, fmt.Errorf("gate %q: after 'baseline' write +N or -N, e.g. baseline-0.01", expr)
			}
			g.BaseOffset = off
		}
		return g, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return Gate{}, fmt.Errorf("gate %q: %q is not a number or baseline[+-N]", expr, m[3])
	}
	g.Value = f
	return g, nil
}

// UnknownMetricError names a gate metric the report does not have.
type UnknownMetricError struct {
	Gate      string
	Metric    string
	Available []string
}

func (e *UnknownMetricError) Error() string {
	return fmt.Sprintf("gate %q: unknown metric %q; available: %s", e.Gate, e.Metric, strings.Join(e.Available, ", "))
}

// CheckGates validates gate metrics against the report before any output
// is produced, so typos are usage errors rather than failed gates.
func CheckGates(gates []Gate, r *Report, haveBaseline bool) error {
	for _, g := range gates {
		if _, ok := r.Metrics[g.Metric]; !ok {
			return &UnknownMetricError{Gate: g.Expr, Metric: g.Metric, Available: r.Metrics.Names()}
		}
		if g.UsesBase && !haveBaseline {
			return fmt.Errorf("gate %q compares with the baseline: pass --compare BASELINE", g.Expr)
		}
	}
	return nil
}

// ApplyGates evaluates the gates against r (and the baseline's metrics) and
// records the results in r.Gates. An undefined metric (NaN) fails its gate.
func ApplyGates(gates []Gate, r *Report, baseline Metrics) {
	r.Gates = r.Gates[:0]
	for _, g := range gates {
		actual := float64(r.Metrics[g.Metric])
		thr := g.Value
		if g.UsesBase {
			thr = float64(baseline[g.Metric]) + g.BaseOffset
		}
		ok := false
		switch g.Op {
		case ">=":
			ok = actual >= thr
		case "<=":
			ok = actual <= thr
		case ">":
			ok = actual > thr
		case "<":
			ok = actual < thr
		case "==":
			ok = actual == thr
		case "!=":
			ok = actual != thr
		}
		if math.IsNaN(actual) || math.IsNaN(thr) {
			ok = false
		}
		r.Gates = append(r.Gates, GateResult{Gate: g.Expr, Metric: g.Metric, Actual: Num(actual), Threshold: Num(thr), Passed: ok})
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
