// Package space describes a tuning study's search space: integer, float (linear or log, optional
// step) and categorical parameters, some active only when others take given values (`when:`).
//
// Samplers work in an internal numeric representation (log-scaled where a parameter is log,
// choice indices for categoricals); trials carry external values (what a command line receives).
// The package knows nothing about YAML files, journals or samplers.
package space

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Type is a parameter's kind.
type Type string

// The parameter types.
const (
	Int         Type = "int"
	Float       Type = "float"
	Categorical Type = "categorical"
)

// Param is one dimension of the search space.
type Param struct {
	Name string
	Type Type
	// Low and High bound int and float parameters (inclusive).
	Low, High float64
	// Log samples uniformly in log space (Low > 0).
	Log bool
	// Step quantises int (default 1) and float (0: continuous) parameters to Low + k·Step.
	Step float64
	// Choices are a categorical's values: strings, float64 numbers, bools or nil.
	Choices []any
	// Grid lists the points the grid sampler visits for this parameter; empty means every
	// value (int, stepped float, categorical).
	Grid []any
	// When makes the parameter active only if every named parameter (declared earlier) is
	// active and takes one of the listed values.
	When []Condition
}

// Condition is one clause of a `when:`.
type Condition struct {
	Param  string
	Values []any
}

// Params are a trial's external parameter values: float64 for int and float parameters
// (integral for ints), the choice itself for categoricals. Inactive parameters are absent.
type Params map[string]any

// Space is an ordered list of parameters; conditions refer only to earlier ones.
type Space struct {
	Params []Param
	index  map[string]int
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New validates params and returns the space. Errors name the parameter and say what to fix.
func New(params []Param) (*Space, error) {
	if len(params) == 0 {
		return nil, fmt.Errorf("the search space is empty: declare at least one parameter under parameters:") //nolint:revive // ends with the YAML key to write
	}
	s := &Space{Params: params, index: make(map[string]int, len(params))}
	for i := range s.Params {
		p := &s.Params[i]
		if !nameRE.MatchString(p.Name) {
			return nil, fmt.Errorf("parameter %q: names are letters, digits and _ (not starting with a digit)", p.Name)
		}
		if _, dup := s.index[p.Name]; dup {
			return nil, fmt.Errorf("parameter %s is declared twice", p.Name)
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		for _, c := range p.When {
			j, ok := s.index[c.Param]
			if !ok {
				if slices.ContainsFunc(params, func(q Param) bool { return q.Name == c.Param }) {
					return nil, fmt.Errorf("parameter %s: when: %s must be declared before %s", p.Name, c.Param, p.Name)
				}
				return nil, fmt.Errorf("parameter %s: when: %s is not a declared parameter", p.Name, c.Param)
			}
			if len(c.Values) == 0 {
				return nil, fmt.Errorf("parameter %s: when: %s lists no values", p.Name, c.Param)
			}
			for _, v := range c.Values {
				if _, err := s.Params[j].normalize(v); err != nil {
					return nil, fmt.Errorf("parameter %s: when: %s: %w", p.Name, c.Param, err)
				}
			}
		}
		s.index[p.Name] = i
	}
	return s, nil
}

func (p *Param) validate() error {
	switch p.Type {
	case Int, Float:
		if math.IsNaN(p.Low) || math.IsNaN(p.High) || math.IsInf(p.Low, 0) || math.IsInf(p.High, 0) {
			return fmt.Errorf("low and high must be finite numbers")
		}
		if p.Low > p.High {
			return fmt.Errorf("low %v is above high %v", p.Low, p.High)
		}
		if p.Log && p.Low <= 0 {
			return fmt.Errorf("log: true needs low > 0 (got %v)", p.Low)
		}
		if p.Step < 0 || math.IsNaN(p.Step) {
			return fmt.Errorf("step must be positive (got %v)", p.Step)
		}
		if len(p.Choices) > 0 {
			return fmt.Errorf("choices only apply to categorical parameters")
		}
		if p.Type == Int {
			if p.Low != math.Trunc(p.Low) || p.High != math.Trunc(p.High) {
				return fmt.Errorf("an int parameter needs integer low and high (got %v, %v)", p.Low, p.High)
			}
			if p.Step == 0 {
				p.Step = 1
			}
			if p.Step != math.Trunc(p.Step) {
				return fmt.Errorf("an int parameter needs an integer step (got %v)", p.Step)
			}
		}
		if p.Log && p.Step != 0 && !(p.Type == Int && p.Step == 1) {
			return fmt.Errorf("log and step cannot be combined")
		}
	case Categorical:
		if len(p.Choices) == 0 {
			return fmt.Errorf("a categorical parameter needs choices: [a, b, ...]")
		}
		if p.Low != 0 || p.High != 0 || p.Log || p.Step != 0 {
			return fmt.Errorf("low, high, log and step do not apply to categorical parameters")
		}
		for i, c := range p.Choices {
			switch c.(type) {
			case string, float64, bool, nil:
			default:
				return fmt.Errorf("choice %v: choices are strings, numbers, booleans or null", c)
			}
			for _, d := range p.Choices[:i] {
				if d == c {
					return fmt.Errorf("choice %v is listed twice", c)
				}
			}
		}
	case "":
		return fmt.Errorf("type is missing: use int, float or categorical")
	default:
		return fmt.Errorf("unknown type %q: use int, float or categorical", p.Type)
	}
	for i, g := range p.Grid {
		v, err := p.normalize(g)
		if err != nil {
			return fmt.Errorf("grid: %w", err)
		}
		p.Grid[i] = v
	}
	return nil
}

// Len is the number of parameters.
func (s *Space) Len() int { return len(s.Params) }

// Param returns the named parameter.
func (s *Space) Param(name string) (*Param, bool) {
	i, ok := s.index[name]
	if !ok {
		return nil, false
	}
	return &s.Params[i], true
}

// Index returns the position of the named parameter, or -1.
func (s *Space) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Active reports whether parameter i is active given the values chosen so far.
func (s *Space) Active(i int, chosen Params) bool {
	for _, c := range s.Params[i].When {
		v, ok := chosen[c.Param]
		if !ok || !slices.Contains(c.Values, v) {
			return false
		}
	}
	return true
}

// Conditional reports whether any parameter has a `when:`.
func (s *Space) Conditional() bool {
	return slices.ContainsFunc(s.Params, func(p Param) bool { return len(p.When) > 0 })
}

// Normalize checks external values against the space (types, bounds, steps, choices, the
// `when:` conditions) and returns them in canonical form (float64 for numbers). JSON-decoded
// values and values typed by a user both pass through here.
func (s *Space) Normalize(in map[string]any) (Params, error) {
	out := make(Params, len(in))
	for name := range in {
		if _, ok := s.index[name]; !ok {
			return nil, fmt.Errorf("unknown parameter %s", name)
		}
	}
	for i := range s.Params {
		p := &s.Params[i]
		v, has := in[p.Name]
		active := s.Active(i, out)
		switch {
		case active && !has:
			return nil, fmt.Errorf("parameter %s is missing", p.Name)
		case !active && has:
			return nil, fmt.Errorf("parameter %s is set but inactive (its when: does not hold)", p.Name)
		case !active:
			continue
		}
		nv, err := p.normalize(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		out[p.Name] = nv
	}
	return out, nil
}

// normalize converts one external value to canonical form, checking it is legal.
func (p *Param) normalize(v any) (any, error) {
	if p.Type == Categorical {
		if f, ok := toFloat(v); ok {
			v = f
		}
		for _, c := range p.Choices {
			if c == v {
				return c, nil
			}
		}
		return nil, fmt.Errorf("%v is not one of the choices %s", v, FormatList(p.Choices))
	}
	f, ok := toFloat(v)
	if !ok {
		return nil, fmt.Errorf("%v is not a number", v)
	}
	if f < p.Low || f > p.High || math.IsNaN(f) {
		return nil, fmt.Errorf("%v is outside [%v, %v]", f, p.Low, p.High)
	}
	if p.Type == Int && f != math.Trunc(f) {
		return nil, fmt.Errorf("%v is not an integer", f)
	}
	if p.Step > 0 && !p.Log {
		k := (f - p.Low) / p.Step
		if math.Abs(k-math.Round(k)) > 1e-9*math.Max(1, math.Abs(k)) {
			return nil, fmt.Errorf("%v is not low + k·step (step %v)", f, p.Step)
		}
	}
	return f, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// Format renders an external value the way a command line receives it: integers without a
// decimal point, floats in the shortest form that reads back exactly, strings as they are.
func (p *Param) Format(v any) string {
	if p.Type == Int {
		if f, ok := toFloat(v); ok {
			return strconv.FormatInt(int64(f), 10)
		}
	}
	return FormatValue(v)
}

// FormatValue renders any external value.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	if f, ok := toFloat(v); ok {
		return FormatValue(f)
	}
	return fmt.Sprint(v)
}

// FormatList renders values as [a, b, c].
func FormatList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = FormatValue(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
