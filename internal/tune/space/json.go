package space

import (
	"encoding/json"
	"fmt"
)

// paramJSON is a parameter as the journal stores it.
type paramJSON struct {
	Name    string          `json:"name"`
	Type    Type            `json:"type"`
	Low     *float64        `json:"low,omitempty"`
	High    *float64        `json:"high,omitempty"`
	Log     bool            `json:"log,omitempty"`
	Step    float64         `json:"step,omitempty"`
	Choices []any           `json:"choices,omitempty"`
	Grid    []any           `json:"grid,omitempty"`
	When    []conditionJSON `json:"when,omitempty"`
}

type conditionJSON struct {
	Param  string `json:"param"`
	Values []any  `json:"values"`
}

// MarshalJSON writes the space as a list of parameters in declaration order.
func (s *Space) MarshalJSON() ([]byte, error) {
	out := make([]paramJSON, len(s.Params))
	for i, p := range s.Params {
		j := paramJSON{Name: p.Name, Type: p.Type, Log: p.Log, Step: p.Step, Choices: p.Choices, Grid: p.Grid}
		if p.Type != Categorical {
			lo, hi := p.Low, p.High
			j.Low, j.High = &lo, &hi
		}
		for _, c := range p.When {
			j.When = append(j.When, conditionJSON(c))
		}
		out[i] = j
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote and validates it.
func (s *Space) UnmarshalJSON(b []byte) error {
	var in []paramJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("search space: %w", err)
	}
	ps := make([]Param, len(in))
	for i, j := range in {
		p := Param{Name: j.Name, Type: j.Type, Log: j.Log, Step: j.Step, Choices: j.Choices, Grid: j.Grid}
		if j.Low != nil {
			p.Low = *j.Low
		}
		if j.High != nil {
			p.High = *j.High
		}
		for _, c := range j.When {
			p.When = append(p.When, Condition(c))
		}
		ps[i] = p
	}
	sp, err := New(ps)
	if err != nil {
		return err
	}
	*s = *sp
	return nil
}
