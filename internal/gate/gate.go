// Package gate parses and evaluates quality-gate expressions such as
// "accuracy>=0.85", "p99_latency_ms<=20", "f1_macro>=baseline-0.01" or
// "accuracy>=champion+0.002": METRIC OP VALUE, where OP is >=, <=, >, <,
// == or != and VALUE is a number or a reference name with an optional
// +N/-N offset.
//
// The package knows no metrics and no references: the caller says which
// reference names it can resolve (eval: "baseline", the --compare model;
// retrain: "champion", the model in production; monitor: none), checks the
// metric names against what its report has (CheckMetrics), and passes the
// actual and reference values to Holds. It is shared by eval, monitor,
// retrain and tune so a gate means the same thing in every command.
package gate

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Op is a comparison operator.
type Op string

// The operators a gate may use.
const (
	GE Op = ">="
	LE Op = "<="
	GT Op = ">"
	LT Op = "<"
	EQ Op = "=="
	NE Op = "!="
)

// Expr is one parsed gate.
type Expr struct {
	Text   string // the expression as written, trimmed
	Metric string
	Op     Op
	// Ref is the reference the threshold is relative to ("baseline",
	// "champion"), or "" when the threshold is the plain number Value.
	Ref string
	// Value is the threshold, or with Ref the offset added to the
	// reference's value of the same metric.
	Value float64
}

// Metric names are lower-case identifiers; two-character operators come
// first so ">=" is not read as ">".
var exprRE = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([^<>=!\s].*?)\s*$`)

// Parse reads one expression. refs are the reference names the caller can
// resolve; any other word on the right is an error.
func Parse(s string, refs ...string) (Expr, error) {
	m := exprRE.FindStringSubmatch(s)
	if m == nil {
		return Expr{}, fmt.Errorf("gate %q: want METRIC OP VALUE, e.g. %s (OP is >=, <=, >, <, == or !=)", s, examples(refs))
	}
	e := Expr{Text: strings.TrimSpace(s), Metric: m[1], Op: Op(m[2])}
	v := strings.ReplaceAll(m[3], " ", "")
	for _, ref := range refs {
		rest, ok := strings.CutPrefix(v, ref)
		if !ok {
			continue
		}
		e.Ref = ref
		if rest == "" {
			return e, nil
		}
		off, err := strconv.ParseFloat(rest, 64)
		if err != nil || (rest[0] != '+' && rest[0] != '-') || math.IsNaN(off) || math.IsInf(off, 0) {
			return Expr{}, fmt.Errorf("gate %q: after '%s' write +N or -N, e.g. %s-0.01", s, ref, ref)
		}
		e.Value = off
		return e, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return Expr{}, fmt.Errorf("gate %q: %q is not a number%s", s, m[3], refSyntax(refs))
	}
	e.Value = f
	return e, nil
}

// ParseAll parses every expression; the first error wins.
func ParseAll(exprs []string, refs ...string) ([]Expr, error) {
	out := make([]Expr, 0, len(exprs))
	for _, s := range exprs {
		e, err := Parse(s, refs...)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func examples(refs []string) string {
	if len(refs) == 0 {
		return "'accuracy>=0.85'"
	}
	return fmt.Sprintf("'accuracy>=0.85' or 'f1_macro>=%s-0.01'", refs[0])
}

func refSyntax(refs []string) string {
	if len(refs) == 0 {
		return ""
	}
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r + "[+-N]"
	}
	if len(parts) == 1 {
		return " or " + parts[0]
	}
	return ", " + strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// String is the canonical form, without spaces: "accuracy>=0.9",
// "f1_macro>=baseline-0.01".
func (e Expr) String() string {
	rhs := strconv.FormatFloat(e.Value, 'g', -1, 64)
	if e.Ref != "" {
		switch {
		case e.Value == 0:
			rhs = e.Ref
		case e.Value > 0:
			rhs = e.Ref + "+" + rhs
		default:
			rhs = e.Ref + rhs
		}
	}
	return e.Metric + string(e.Op) + rhs
}

// Threshold is the value the metric is compared with: Value, or with a
// reference ref+Value where ref is the reference's value of the metric.
func (e Expr) Threshold(ref float64) float64 {
	if e.Ref == "" {
		return e.Value
	}
	return ref + e.Value
}

// Holds reports whether actual satisfies the gate; ref is the reference's
// value of the metric (ignored without Ref). An undefined (NaN) actual or
// threshold never holds, whatever the operator.
func (e Expr) Holds(actual, ref float64) bool {
	thr := e.Threshold(ref)
	if math.IsNaN(actual) || math.IsNaN(thr) {
		return false
	}
	switch e.Op {
	case GE:
		return actual >= thr
	case LE:
		return actual <= thr
	case GT:
		return actual > thr
	case LT:
		return actual < thr
	case EQ:
		return actual == thr
	case NE:
		return actual != thr
	}
	return false
}

// Violation is how far actual is on the wrong side of the threshold, in the metric's units:
// 0 when the gate holds, |actual−threshold| when it does not (0 for a broken != or for a strict
// < or > at the threshold itself), +Inf for an undefined actual or threshold. Tune sums it over
// a study's constraints to rank the trials that break them.
func (e Expr) Violation(actual, ref float64) float64 {
	thr := e.Threshold(ref)
	switch {
	case math.IsNaN(actual) || math.IsNaN(thr):
		return math.Inf(1)
	case e.Holds(actual, ref), e.Op == NE:
		return 0
	}
	return math.Abs(actual - thr)
}

// UnknownMetricError names a gate metric the caller's report does not have.
type UnknownMetricError struct {
	Gate      string
	Metric    string
	Available []string
}

func (e *UnknownMetricError) Error() string {
	return fmt.Sprintf("gate %q: unknown metric %q; available: %s", e.Gate, e.Metric, strings.Join(e.Available, ", "))
}

// CheckMetrics returns an *UnknownMetricError for the first gate whose
// metric is not in available, so a typo is a usage error before any work.
func CheckMetrics(exprs []Expr, available []string) error {
	for _, e := range exprs {
		if !slices.Contains(available, e.Metric) {
			names := slices.Clone(available)
			slices.Sort(names)
			return &UnknownMetricError{Gate: e.Text, Metric: e.Metric, Available: names}
		}
	}
	return nil
}
