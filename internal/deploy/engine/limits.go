package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// Limits bound the inputs of each request. A dynamic dimension costs a model
// far more than its request's size suggests (attention is quadratic in the
// sequence length: a 48 KB request with a sequence of 6,000 grew a server by
// 2 GB), so the byte limit alone does not protect a server.
type Limits struct {
	// MaxDim caps every dynamic dimension of every input; 0 means no cap.
	MaxDim int64
	// Dims caps the dimensions of single inputs, keyed "INPUT" (that input
	// of every model) or "MODEL/INPUT" (which wins over "INPUT"): one entry
	// per dimension, -1 for no cap on that dimension.
	Dims map[string][]int64
	// MaxElements caps the element count of each input; 0 means no cap.
	MaxElements int64
}

// inputLimit is Limits resolved for one input of one model.
type inputLimit struct {
	caps []int64 // per dimension, 0 = no cap
	key  string  // the Dims key that set caps, "" when only MaxDim applies
}

// resolve turns the limits into per-input caps for a model, checking that
// per-input entries fit the inputs' shapes.
func (l Limits) resolve(model string, inputs []TensorMeta) ([]inputLimit, error) {
	out := make([]inputLimit, len(inputs))
	for i, in := range inputs {
		lim := inputLimit{caps: make([]int64, len(in.Shape))}
		for d, s := range in.Shape {
			if s < 0 && l.MaxDim > 0 {
				lim.caps[d] = l.MaxDim
			}
		}
		if dims, key, ok := lookup(l.Dims, model, in, capFits); ok {
			lim.key = key
			if err := capFits(in, dims); err != nil {
				return nil, fmt.Errorf("--max-dims %s=%s: %w (model %q)", key, FormatShape(dims), err, model)
			}
			for d, c := range dims {
				if in.Shape[d] < 0 && c > 0 && (lim.caps[d] == 0 || c < lim.caps[d]) {
					lim.caps[d] = c
				}
			}
		}
		out[i] = lim
	}
	return out, nil
}

// check is the 400 for a request input over its limits.
func (lim inputLimit) check(l *Limits, name string, shape []int64) error {
	for d, c := range lim.caps {
		if c > 0 && shape[d] > c {
			flag := "--max-dims " + strconv.FormatInt(c, 10)
			if lim.key != "" && (l.MaxDim == 0 || c < l.MaxDim) {
				flag = "--max-dims " + lim.key + "=" + FormatShape(l.Dims[lim.key])
			}
			return oip.BadRequest("input %q: dimension %d is %d, over this server's limit of %d (%s); send a smaller input",
				name, d, shape[d], c, flag)
		}
	}
	if l.MaxElements > 0 {
		if n, err := oip.NumElements(shape); err == nil && n > l.MaxElements {
			return oip.BadRequest("input %q: shape %v has %d elements, over this server's limit of %d per input (--max-elements); send a smaller input",
				name, shape, n, l.MaxElements)
		}
	}
	return nil
}

// capFits checks per-dimension caps against an input's shape.
func capFits(in TensorMeta, dims []int64) error {
	if len(dims) != len(in.Shape) {
		return fmt.Errorf("gives %d dimensions, but input %q has shape %v", len(dims), in.Name, in.Shape)
	}
	for d, c := range dims {
		if c >= 0 && in.Shape[d] >= 0 && c < in.Shape[d] {
			return fmt.Errorf("caps dimension %d at %d, below its fixed size %d in input %q (shape %v)", d, c, in.Shape[d], in.Name, in.Shape)
		}
	}
	return nil
}

// lookup finds the shape entry for an input: "MODEL/INPUT", which must fit
// it, or else "INPUT", which applies to every model with an input of that
// name that it fits (serving two models whose inputs are both named
// "input", an entry for one must not break the other).
func lookup(m map[string][]int64, model string, in TensorMeta, fits func(TensorMeta, []int64) error) ([]int64, string, bool) {
	if v, ok := m[model+"/"+in.Name]; ok {
		return v, model + "/" + in.Name, true
	}
	if v, ok := m[in.Name]; ok && fits(in, v) == nil {
		return v, in.Name, true
	}
	return nil, "", false
}

// ParseShape parses comma-separated dimensions ("1,512"; "" is a scalar).
// With wildcard, -1 is allowed and means "any".
func ParseShape(s string, wildcard bool) ([]int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []int64{}, nil
	}
	parts := strings.Split(s, ",")
	dims := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		switch {
		case err != nil:
			return nil, fmt.Errorf("dimension %q is not a whole number", p)
		case v == -1 && wildcard:
		case v < 1:
			if wildcard {
				return nil, fmt.Errorf("dimension %d must be positive, or -1 for no limit", v)
			}
			return nil, fmt.Errorf("dimension %d must be positive", v)
		}
		dims[i] = v
	}
	return dims, nil
}

// FormatShape is the inverse of ParseShape.
func FormatShape(dims []int64) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(s, ",")
}
