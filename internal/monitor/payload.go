package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Record is one payload-log line (docs/payload-log.md). JSON field names are the contract with serve.
type Record struct {
	TS         time.Time `json:"ts"`
	RequestID  string    `json:"request_id"`
	Model      string    `json:"model"`
	Version    string    `json:"version"`
	Inputs     []Tensor  `json:"inputs"`
	Outputs    []Tensor  `json:"outputs"`
	Status     int       `json:"status"`
	DurationMS float64   `json:"duration_ms"`
}

// Tensor is a KServe v2 JSON tensor with flattened row-major data.
type Tensor struct {
	Name     string          `json:"name"`
	Datatype string          `json:"datatype"`
	Shape    []int64         `json:"shape"`
	Data     json.RawMessage `json:"data"`
}

// maxRecordElements bounds the elements one record may claim, so a corrupt shape cannot make the reader
// allocate without limit.
const maxRecordElements = 1 << 26

// DecodeRecord parses and validates one payload-log line. Errors say what is wrong with the line.
func DecodeRecord(line []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("not a JSON record: %w", err)
	}
	if r.RequestID == "" {
		return nil, errors.New("record has no request_id")
	}
	if len(r.Inputs) == 0 {
		return nil, errors.New("record has no inputs")
	}
	return &r, nil
}

// rows returns the number of rows (first dimension) and the per-row width of a tensor shape.
// A 1-d tensor of n elements is n rows of width 1; a scalar (0-d) is one row.
func shapeRows(shape []int64) (rows, width int, err error) {
	if len(shape) == 0 {
		return 1, 1, nil
	}
	total := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > maxRecordElements || (d > 0 && total > maxRecordElements/d) {
			return 0, 0, fmt.Errorf("shape %v is larger than %d elements", shape, maxRecordElements)
		}
		total *= d
		if total > maxRecordElements {
			return 0, 0, fmt.Errorf("shape %v is larger than %d elements", shape, maxRecordElements)
		}
	}
	if shape[0] == 0 {
		return 0, 0, fmt.Errorf("shape %v has no rows", shape)
	}
	return int(shape[0]), int(total / shape[0]), nil
}

// Values decodes the tensor data as float64. Strings (BYTES) become categorical values through dict,
// which maps each distinct string to a code; booleans become 0/1. The element count must match shape.
func (t *Tensor) Values(dict *Dictionary) (vals []float64, categorical bool, err error) {
	rows, width, err := shapeRows(t.Shape)
	if err != nil {
		return nil, false, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	want := rows * width
	switch t.Datatype {
	case "BYTES":
		var ss []string
		if err := json.Unmarshal(t.Data, &ss); err != nil {
			return nil, false, fmt.Errorf("tensor %q: BYTES data must be a flat array of strings: %w", t.Name, err)
		}
		if len(ss) != want {
			return nil, false, fmt.Errorf("tensor %q: %d elements, shape %v needs %d", t.Name, len(ss), t.Shape, want)
		}
		vals = make([]float64, len(ss))
		for i, s := range ss {
			vals[i] = dict.Code(s)
		}
		return vals, true, nil
	case "BOOL":
		var bs []bool
		if err := json.Unmarshal(t.Data, &bs); err != nil {
			return nil, false, fmt.Errorf("tensor %q: BOOL data must be a flat array of booleans: %w", t.Name, err)
		}
		if len(bs) != want {
			return nil, false, fmt.Errorf("tensor %q: %d elements, shape %v needs %d", t.Name, len(bs), t.Shape, want)
		}
		vals = make([]float64, len(bs))
		for i, b := range bs {
			if b {
				vals[i] = 1
			}
		}
		return vals, true, nil
	case "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BF16":
		if err := json.Unmarshal(t.Data, &vals); err != nil {
			if vals, err = decodeNonFinite(t.Data); err != nil {
				return nil, false, fmt.Errorf("tensor %q: %s data must be a flat array of numbers: %w", t.Name, t.Datatype, err)
			}
		}
		if len(vals) != want {
			return nil, false, fmt.Errorf("tensor %q: %d elements, shape %v needs %d", t.Name, len(vals), t.Shape, want)
		}
		if t.Datatype == "FP32" || t.Datatype == "FP16" || t.Datatype == "BF16" {
			// JSON holds the shortest decimal of a float32; parse it back to that float32 so logged
			// values equal the same values read from a float32 reference (.npy) bit for bit.
			for i, v := range vals {
				vals[i] = float64(float32(v))
			}
		}
		return vals, false, nil
	default:
		return nil, false, fmt.Errorf("tensor %q: unknown datatype %q", t.Name, t.Datatype)
	}
}

// decodeNonFinite is the slow path for number arrays holding the strings "NaN", "Infinity" and
// "-Infinity", which serve writes for non-finite floats (JSON has no literal for them).
func decodeNonFinite(raw []byte) ([]float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	vals := make([]float64, len(items))
	for i, it := range items {
		switch string(it) {
		case `"NaN"`:
			vals[i] = math.NaN()
		case `"Infinity"`:
			vals[i] = math.Inf(1)
		case `"-Infinity"`:
			vals[i] = math.Inf(-1)
		default:
			if err := json.Unmarshal(it, &vals[i]); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return vals, nil
}

// Dictionary assigns stable float codes to category strings, shared by reference and current data so
// equal strings get equal codes.
type Dictionary struct {
	codes  map[string]float64
	Levels []string
}

// NewDictionary returns an empty dictionary.
func NewDictionary() *Dictionary { return &Dictionary{codes: map[string]float64{}} }

// Code returns the code of s, adding it when new.
func (d *Dictionary) Code(s string) float64 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := float64(len(d.Levels))
	d.codes[s] = c
	d.Levels = append(d.Levels, s)
	return c
}

// predictedClass turns one row of a model output into a class label: the argmax index for a score
// vector, the value itself for a single integer, 0/1 at 0.5 for a single probability.
func predictedClass(row []float64, integer bool) string {
	if len(row) == 1 {
		v := row[0]
		if integer {
			return strconv.FormatInt(int64(v), 10)
		}
		if v >= 0.5 {
			return "1"
		}
		return "0"
	}
	best := 0
	for i, v := range row {
		if v > row[best] || (math.IsNaN(row[best]) && !math.IsNaN(v)) {
			best = i
		}
	}
	return strconv.Itoa(best)
}

func isIntegerType(dt string) bool {
	switch dt {
	case "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "BOOL":
		return true
	}
	return false
}
