package prune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Scopes, criteria and patterns accepted by Options.
const (
	ScopeLayer  = "layer"
	ScopeGlobal = "global"

	CriterionL1 = "l1"
	CriterionL2 = "l2"

	PatternUnstructured = "unstructured"
)

// supportedOp reports whether prune can select the weights of op.
func supportedOp(op string) bool { return op == "Conv" || op == "Gemm" || op == "MatMul" }

// DefaultOpTypes is the default --op-types selection.
func DefaultOpTypes() []string { return []string{"Gemm", "MatMul", "Conv"} }

// Options say what to prune and how.
type Options struct {
	Sparsity     float64  // fraction of weights (or channels) to remove, in [0, 1)
	Scope        string   // ScopeLayer or ScopeGlobal (unstructured only)
	Criterion    string   // CriterionL1 or CriterionL2
	Pattern      string   // PatternUnstructured or "N:M"
	Structured   bool     // remove whole channels/neurons instead of zeroing weights
	OpTypes      []string // op types whose weights are selected
	ExcludeNodes []string // node names to leave alone
	MinParams    int64    // skip weight tensors with fewer elements
}

// NM is a parsed N:M pattern: N zeros in every group of M.
type NM struct{ N, M int }

// ParsePattern parses "unstructured" or "N:M". ok is false for unstructured.
func ParsePattern(s string) (nm NM, ok bool, err error) {
	if s == "" || s == PatternUnstructured {
		return NM{}, false, nil
	}
	a, b, found := strings.Cut(s, ":")
	if !found {
		return NM{}, false, fmt.Errorf("pattern %q: want %q or N:M such as 2:4", s, PatternUnstructured)
	}
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || n < 1 || m < 1 {
		return NM{}, false, fmt.Errorf("pattern %q: N and M must be positive integers, as in 2:4", s)
	}
	if n >= m {
		return NM{}, false, fmt.Errorf("pattern %q: N must be smaller than M (N zeros in every group of M)", s)
	}
	return NM{N: n, M: m}, true, nil
}

// Validate checks the options and fills defaults; errors name the flag to fix.
func (o *Options) Validate() error {
	if math.IsNaN(o.Sparsity) || o.Sparsity < 0 || o.Sparsity >= 1 {
		return fmt.Errorf("--sparsity %v is outside [0, 1): give the fraction to remove, e.g. 0.5", o.Sparsity)
	}
	if o.Scope == "" {
		o.Scope = ScopeLayer
	}
	if o.Scope != ScopeLayer && o.Scope != ScopeGlobal {
		return fmt.Errorf("--scope %q: want %q or %q", o.Scope, ScopeLayer, ScopeGlobal)
	}
	if o.Criterion == "" {
		o.Criterion = CriterionL1
	}
	if o.Criterion != CriterionL1 && o.Criterion != CriterionL2 {
		return fmt.Errorf("--criterion %q: want %q or %q", o.Criterion, CriterionL1, CriterionL2)
	}
	if o.Pattern == "" {
		o.Pattern = PatternUnstructured
	}
	_, isNM, err := ParsePattern(o.Pattern)
	if err != nil {
		return err
	}
	if o.Structured && isNM {
		return fmt.Errorf("--structured removes whole channels; it cannot be combined with pattern %s", o.Pattern)
	}
	if o.Structured && o.Scope == ScopeGlobal {
		return fmt.Errorf("--structured prunes each layer to the target (scope %q); scope %q applies to unstructured pruning", ScopeLayer, ScopeGlobal)
	}
	if len(o.OpTypes) == 0 {
		o.OpTypes = DefaultOpTypes()
	}
	for _, op := range o.OpTypes {
		if !supportedOp(op) {
			return fmt.Errorf("--op-types %q: this op type cannot be pruned; choose from Conv, Gemm, MatMul", op)
		}
	}
	if o.MinParams < 0 {
		return fmt.Errorf("--min-params must not be negative, got %d", o.MinParams)
	}
	return nil
}
