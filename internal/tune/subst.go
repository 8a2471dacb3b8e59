package tune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/tune/space"
)

// Built-in references a trial template may use besides the parameters.
const (
	refTrialNumber = "trial.number"
	refTrialDir    = "trial.dir"
	refStudy       = "study"
)

// template is a string with ${name} and ${name:-default} references; $$ is a literal $.
type template struct {
	parts []tpart
}

type tpart struct {
	lit    string
	ref    string // "" for a literal
	def    string
	hasDef bool
}

func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			lit.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("%q: ${ without a closing }", s)
		}
		body := s[i+2 : i+end]
		p := tpart{ref: body}
		if name, def, ok := strings.Cut(body, ":-"); ok {
			p = tpart{ref: name, def: def, hasDef: true}
		}
		if p.ref == "" {
			return t, fmt.Errorf("%q: empty ${}", s)
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, tpart{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, p)
		i += end
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, tpart{lit: lit.String()})
	}
	return t, nil
}

// refs lists the names referenced.
func (t template) refs() []string {
	var out []string
	for _, p := range t.parts {
		if p.ref != "" {
			out = append(out, p.ref)
		}
	}
	return out
}

// expand substitutes references; ok is false when a reference has no value (an inactive
// conditional parameter without a default), in which case the caller drops the argument.
func (t template) expand(lookup func(string) (string, bool)) (string, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := lookup(p.ref)
		switch {
		case ok:
			b.WriteString(v)
		case p.hasDef:
			b.WriteString(p.def)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// checkRefs makes sure every reference names a parameter or a built-in and every parameter
// is used somewhere: a typo in either place would otherwise tune nothing.
func checkRefs(sp *space.Space, where map[string][]string) error {
	used := map[string]bool{}
	keys := make([]string, 0, len(where))
	for k := range where {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var declared []string
	for _, p := range sp.Params {
		declared = append(declared, p.Name)
	}
	for _, k := range keys {
		for _, ref := range where[k] {
			switch {
			case ref == refTrialNumber || ref == refTrialDir || ref == refStudy:
			case sp.Index(ref) >= 0:
				used[ref] = true
			default:
				return fmt.Errorf("%s: ${%s} is not a declared parameter (declared: %s; built-in: ${trial.number}, ${trial.dir}, ${study})", k, ref, strings.Join(declared, ", "))
			}
		}
	}
	for _, name := range declared {
		if !used[name] {
			return fmt.Errorf("parameter %s is declared but never used in the trial: pass it (${%s}) or remove it", name, name)
		}
	}
	return nil
}

// valueLookup resolves references for one trial.
func valueLookup(sp *space.Space, params space.Params, number int, dir, studyName string) func(string) (string, bool) {
	return func(ref string) (string, bool) {
		switch ref {
		case refTrialNumber:
			return fmt.Sprint(number), true
		case refTrialDir:
			return dir, true
		case refStudy:
			return studyName, true
		}
		v, ok := params[ref]
		if !ok {
			return "", false
		}
		p, _ := sp.Param(ref)
		return p.Format(v), true
	}
}
