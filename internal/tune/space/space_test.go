package space

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustSpace(t *testing.T, ps ...Param) *Space {
	t.Helper()
	s, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRejectsBadParameters(t *testing.T) {
	cases := []struct {
		p    []Param
		want string
	}{
		{nil, "search space is empty"},
		{[]Param{{Name: "lr", Type: Float, Low: 1, High: 0}}, "low 1 is above high 0"},
		{[]Param{{Name: "lr", Type: Float, Low: 0, High: 1, Log: true}}, "log: true needs low > 0"},
		{[]Param{{Name: "n", Type: Int, Low: 0.5, High: 3}}, "integer low and high"},
		{[]Param{{Name: "n", Type: Int, Low: 1, High: 9, Step: 2, Log: true}}, "log and step cannot be combined"},
		{[]Param{{Name: "c", Type: Categorical}}, "needs choices"},
		{[]Param{{Name: "c", Type: Categorical, Choices: []any{"a", "a"}}}, "listed twice"},
		{[]Param{{Name: "x", Type: "double", Low: 0, High: 1}}, `unknown type "double"`},
		{[]Param{{Name: "x"}}, "type is missing"},
		{[]Param{{Name: "1x", Type: Float, High: 1}}, "names are letters"},
		{[]Param{{Name: "x", Type: Float, High: 1}, {Name: "x", Type: Float, High: 1}}, "declared twice"},
		{[]Param{{Name: "m", Type: Float, High: 1, When: []Condition{{Param: "opt", Values: []any{"sgd"}}}}}, "opt is not a declared parameter"},
		{[]Param{{Name: "m", Type: Float, High: 1, When: []Condition{{Param: "opt", Values: []any{"sgd"}}}},
			{Name: "opt", Type: Categorical, Choices: []any{"sgd"}}}, "opt must be declared before m"},
		{[]Param{{Name: "opt", Type: Categorical, Choices: []any{"sgd", "adam"}},
			{Name: "m", Type: Float, High: 1, When: []Condition{{Param: "opt", Values: []any{"rmsprop"}}}}}, "rmsprop is not one of the choices"},
		{[]Param{{Name: "x", Type: Float, Low: 0, High: 1, Grid: []any{0.5, 2.0}}}, "grid: 2 is outside [0, 1]"},
	}
	for _, c := range cases {
		_, err := New(c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.p, err, c.want)
		}
	}
}

func TestConditionalActivityAndNormalize(t *testing.T) {
	s := mustSpace(t,
		Param{Name: "opt", Type: Categorical, Choices: []any{"sgd", "adam"}},
		Param{Name: "momentum", Type: Float, Low: 0.5, High: 0.99, When: []Condition{{Param: "opt", Values: []any{"sgd"}}}},
		Param{Name: "layers", Type: Int, Low: 1, High: 4})
	p, err := s.Normalize(map[string]any{"opt": "sgd", "momentum": 0.9, "layers": 2})
	if err != nil || p["layers"] != 2.0 {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := s.Normalize(map[string]any{"opt": "adam", "momentum": 0.9, "layers": 2}); err == nil || !strings.Contains(err.Error(), "inactive") {
		t.Fatalf("inactive momentum accepted: %v", err)
	}
	if _, err := s.Normalize(map[string]any{"opt": "sgd", "layers": 2}); err == nil || !strings.Contains(err.Error(), "momentum is missing") {
		t.Fatalf("missing momentum accepted: %v", err)
	}
	if _, err := s.Normalize(map[string]any{"opt": "adam", "layers": 2.5}); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Fatalf("2.5 accepted for an int: %v", err)
	}
	if _, err := s.Normalize(map[string]any{"opt": "adam", "layers": 2, "lr": 1}); err == nil || !strings.Contains(err.Error(), "unknown parameter lr") {
		t.Fatalf("unknown parameter accepted: %v", err)
	}
}

func TestInternalExternalRoundTrip(t *testing.T) {
	s := mustSpace(t,
		Param{Name: "lr", Type: Float, Low: 1e-5, High: 0.1, Log: true},
		Param{Name: "drop", Type: Float, Low: 0, High: 0.5, Step: 0.1},
		Param{Name: "n", Type: Int, Low: 1, High: 1024, Log: true},
		Param{Name: "k", Type: Int, Low: 2, High: 10, Step: 2},
		Param{Name: "c", Type: Categorical, Choices: []any{"a", 1.5, true, nil}})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		for j := range s.Params {
			p := &s.Params[j]
			v := p.Uniform(rng)
			if _, err := p.normalize(v); err != nil {
				t.Fatalf("%s: uniform draw %v is not legal: %v", p.Name, v, err)
			}
			if back := p.External(p.Internal(v)); back != v {
				t.Fatalf("%s: %v → %v → %v", p.Name, v, p.Internal(v), back)
			}
		}
	}
	drop, _ := s.Param("drop")
	if got := drop.External(0.3 + 1e-12); got != 0.3 {
		t.Fatalf("stepped float not snapped: %v", got)
	}
	if got := drop.Values(); len(got) != 6 || got[3] != 0.3 {
		t.Fatalf("drop values %v", got)
	}
	k, _ := s.Param("k")
	if got := k.Values(); len(got) != 5 || got[4] != 10.0 {
		t.Fatalf("k values %v", got)
	}
	lr, _ := s.Param("lr")
	if lr.Values() != nil {
		t.Fatal("a continuous float has no grid")
	}
	// Every choice and every int is drawn about equally often.
	counts := map[any]int{}
	for i := 0; i < 8000; i++ {
		counts[k.Uniform(rng)]++
	}
	for _, v := range k.Values() {
		if c := counts[v]; math.Abs(float64(c)-1600) > 200 {
			t.Fatalf("k=%v drawn %d times of 8000", v, c)
		}
	}
}

func TestFormat(t *testing.T) {
	f := Param{Type: Float}
	n := Param{Type: Int}
	for _, c := range []struct {
		p    Param
		v    any
		want string
	}{{f, 1e-5, "1e-05"}, {f, 0.98, "0.98"}, {f, 3.0, "3"}, {n, 888.0, "888"}, {n, -3.0, "-3"}, {Param{Type: Categorical}, "adam", "adam"}, {Param{Type: Categorical}, true, "true"}} {
		if got := c.p.Format(c.v); got != c.want {
			t.Errorf("Format(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s := mustSpace(t,
		Param{Name: "opt", Type: Categorical, Choices: []any{"sgd", "adam"}},
		Param{Name: "momentum", Type: Float, Low: 0.5, High: 0.99, When: []Condition{{Param: "opt", Values: []any{"sgd"}}}},
		Param{Name: "lr", Type: Float, Low: 1e-5, High: 0.1, Log: true, Grid: []any{1e-4, 1e-3}},
		Param{Name: "n", Type: Int, Low: 0, High: 4})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Space
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) || back.Index("lr") != 2 || !back.Conditional() {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
	if err := json.Unmarshal([]byte(`[{"name":"x","type":"float","low":2,"high":1}]`), &back); err == nil {
		t.Fatal("invalid space accepted from JSON")
	}
}
