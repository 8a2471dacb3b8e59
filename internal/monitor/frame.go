package monitor

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Frame is a sample as columns: one column per input element (tensor "input" of width 784 gives
// columns input[0]..input[783]) and, when outputs were logged, a categorical prediction column.
// Row metadata (request id, time, predicted class) is kept for joining delayed labels.
type Frame struct {
	Inputs     []TensorSchema
	Columns    []Column
	Prediction *Column // nil when no outputs are known
	// Per row, for payload-log frames.
	RequestIDs []string
	RowInReq   []int
	Times      []time.Time
	Predicted  []string
	Models     map[string]int // model name → records
}

// TensorSchema is one input tensor: its name and per-row width.
type TensorSchema struct {
	Name        string
	Width       int
	Categorical bool
}

// Rows is the number of rows in the frame.
func (f *Frame) Rows() int {
	if len(f.Columns) == 0 {
		return 0
	}
	return len(f.Columns[0].Values)
}

func columnName(t TensorSchema, i int) string {
	if t.Width == 1 {
		return t.Name
	}
	return t.Name + "[" + strconv.Itoa(i) + "]"
}

// newFrame prepares the columns for a schema.
func newFrame(schema []TensorSchema, withPrediction bool) *Frame {
	f := &Frame{Inputs: schema, Models: map[string]int{}}
	for _, t := range schema {
		for i := 0; i < t.Width; i++ {
			f.Columns = append(f.Columns, Column{Name: columnName(t, i), Categorical: t.Categorical})
		}
	}
	if withPrediction {
		f.Prediction = &Column{Name: "prediction", Categorical: true}
	}
	return f
}

// recordBuilder turns payload-log records into a Frame. The first usable record fixes the schema;
// later records must match it (same input names and widths) or are skipped.
type recordBuilder struct {
	dict   *Dictionary
	output string // output tensor holding predictions; "" = the first output
	model  string // keep only this model; "" = any
	since  time.Time
	until  time.Time
	frame  *Frame
}

func (b *recordBuilder) add(r *Record) error {
	if b.model != "" && r.Model != b.model {
		return nil
	}
	if (!b.since.IsZero() && r.TS.Before(b.since)) || (!b.until.IsZero() && !r.TS.Before(b.until)) {
		return nil
	}
	var rows int
	type decoded struct {
		vals  []float64
		width int
		cat   bool
	}
	byName := make(map[string]decoded, len(r.Inputs))
	for i := range r.Inputs {
		t := &r.Inputs[i]
		n, w, err := shapeRows(t.Shape)
		if err != nil {
			return &SkipError{fmt.Errorf("input %q: %w", t.Name, err)}
		}
		if i == 0 {
			rows = n
		} else if n != rows {
			return &SkipError{fmt.Errorf("input %q has %d rows, input %q has %d", t.Name, n, r.Inputs[0].Name, rows)}
		}
		vals, cat, err := t.Values(b.dict)
		if err != nil {
			return &SkipError{err}
		}
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				// Drift statistics need finite values; one bad request must not stop the run.
				return &SkipError{fmt.Errorf("input %q holds NaN or infinite values", t.Name)}
			}
		}
		byName[t.Name] = decoded{vals, w, cat}
	}
	var pred []string
	if out := b.pickOutput(r); out != nil {
		n, w, err := shapeRows(out.Shape)
		if err != nil {
			return &SkipError{fmt.Errorf("output %q: %w", out.Name, err)}
		}
		if n != rows {
			return &SkipError{fmt.Errorf("output %q has %d rows, inputs have %d", out.Name, n, rows)}
		}
		vals, _, err := out.Values(b.dict)
		if err != nil {
			return &SkipError{err}
		}
		integer := isIntegerType(out.Datatype) || out.Datatype == "BYTES"
		for k := 0; k < rows; k++ {
			pred = append(pred, predictedClass(vals[k*w:(k+1)*w], integer))
		}
	}
	if b.frame == nil {
		var schema []TensorSchema
		for _, t := range r.Inputs {
			d := byName[t.Name]
			schema = append(schema, TensorSchema{Name: t.Name, Width: d.width, Categorical: d.cat})
		}
		b.frame = newFrame(schema, pred != nil)
	}
	f := b.frame
	if len(byName) != len(f.Inputs) {
		return &SkipError{fmt.Errorf("record has %d inputs, the first record had %d", len(byName), len(f.Inputs))}
	}
	for _, t := range f.Inputs {
		d, ok := byName[t.Name]
		if !ok {
			return &SkipError{fmt.Errorf("record has no input %q (the first record had it)", t.Name)}
		}
		if d.width != t.Width {
			return &SkipError{fmt.Errorf("input %q has %d values per row, the first record had %d", t.Name, d.width, t.Width)}
		}
	}
	if (pred != nil) != (f.Prediction != nil) && f.Prediction != nil {
		return &SkipError{fmt.Errorf("record has no output to take predictions from")}
	}
	for k := 0; k < rows; k++ {
		c := 0
		for _, t := range f.Inputs {
			d := byName[t.Name]
			for i := 0; i < t.Width; i++ {
				f.Columns[c].Values = append(f.Columns[c].Values, d.vals[k*t.Width+i])
				c++
			}
		}
		if f.Prediction != nil {
			f.Prediction.Values = append(f.Prediction.Values, b.dict.Code(pred[k]))
			f.Predicted = append(f.Predicted, pred[k])
		}
		f.RequestIDs = append(f.RequestIDs, r.RequestID)
		f.RowInReq = append(f.RowInReq, k)
		f.Times = append(f.Times, r.TS)
	}
	f.Models[r.Model]++
	return nil
}

func (b *recordBuilder) pickOutput(r *Record) *Tensor {
	for i := range r.Outputs {
		if b.output == "" || r.Outputs[i].Name == b.output {
			return &r.Outputs[i]
		}
	}
	return nil
}
