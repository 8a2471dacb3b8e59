package engine

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// prepare checks a request's inputs against the model's metadata and returns
// them in model order, with the requested output names. Every mismatch is a
// 400 naming the input and what was expected, so nothing malformed reaches
// ONNX Runtime.
func prepare(meta *Metadata, limits []inputLimit, l *Limits, req *oip.InferRequest) ([]*oip.Tensor, []string, error) {
	byName := make(map[string]*oip.Tensor, len(req.Inputs))
	for _, t := range req.Inputs {
		byName[t.Name] = t
	}
	ordered := make([]*oip.Tensor, len(meta.Inputs))
	batch := int64(-1)
	for i, m := range meta.Inputs {
		t, ok := byName[m.Name]
		if !ok {
			return nil, nil, oip.BadRequest("missing input %q (%s, shape %v); the model's inputs are %s", m.Name, m.Datatype, m.Shape, names(meta.Inputs))
		}
		delete(byName, m.Name)
		if t.Datatype != m.Datatype {
			return nil, nil, oip.BadRequest("input %q: expected datatype %s, got %s", m.Name, m.Datatype, t.Datatype)
		}
		if len(t.Shape) != len(m.Shape) {
			return nil, nil, oip.BadRequest("input %q: expected shape %v (rank %d), got %v", m.Name, m.Shape, len(m.Shape), t.Shape)
		}
		for d, want := range m.Shape {
			if want >= 0 && t.Shape[d] != want {
				return nil, nil, oip.BadRequest("input %q: expected shape %v, got %v (dimension %d must be %d)", m.Name, m.Shape, t.Shape, d, want)
			}
		}
		if err := limits[i].check(l, m.Name, t.Shape); err != nil {
			return nil, nil, err
		}
		if err := t.Check(); err != nil {
			return nil, nil, oip.BadRequest("%v", err)
		}
		if meta.Batchable {
			if batch >= 0 && t.Shape[0] != batch {
				return nil, nil, oip.BadRequest("input %q: batch dimension %d differs from other inputs' %d", m.Name, t.Shape[0], batch)
			}
			batch = t.Shape[0]
		}
		ordered[i] = t
	}
	for name := range byName {
		return nil, nil, oip.BadRequest("unknown input %q; the model's inputs are %s", name, names(meta.Inputs))
	}
	var outs []string
	for _, o := range req.Outputs {
		if !hasName(meta.Outputs, o.Name) {
			return nil, nil, oip.BadRequest("unknown output %q; the model's outputs are %s", o.Name, names(meta.Outputs))
		}
		outs = append(outs, o.Name)
	}
	return ordered, outs, nil
}

func names(ts []TensorMeta) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", t.Name)
	}
	return s
}

func hasName(ts []TensorMeta, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}
