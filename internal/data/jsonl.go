package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxJSONLLine bounds one record; a longer line is an error, not an OOM.
const maxJSONLLine = 64 << 20

// jsonlSource reads one JSON object per line. Columns are the first
// record's keys in document order; values are numbers, booleans, null (NaN)
// or nested arrays of those, flattened row-major.
type jsonlSource struct {
	sc     *bufio.Scanner
	closer io.Closer
	cols   []string
	rec    map[string]json.RawMessage
	line   int
}

func newJSONLSource(rc io.ReadCloser) *jsonlSource {
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<16), maxJSONLLine)
	return &jsonlSource{sc: sc, closer: rc}
}

func (s *jsonlSource) columns() []string { return s.cols }

func (s *jsonlSource) next() error {
	for s.sc.Scan() {
		s.line++
		b := bytes.TrimSpace(s.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		keys, rec, err := parseJSONObject(b)
		if err != nil {
			return fmt.Errorf("JSONL line %d: %w", s.line, err)
		}
		if s.cols == nil {
			s.cols = keys
		}
		s.rec = rec
		return nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("JSONL line %d is longer than %d MiB", s.line+1, maxJSONLLine>>20)
		}
		return fmt.Errorf("JSONL line %d: %w", s.line+1, err)
	}
	return io.EOF
}

// parseJSONObject decodes one object keeping its key order.
func parseJSONObject(b []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("each line must be a JSON object like {\"x\": [...], \"label\": 3}")
	}
	var keys []string
	rec := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		k, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON in field %q: %w", k, err)
		}
		if _, dup := rec[k]; !dup {
			keys = append(keys, k)
		}
		rec[k] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	return keys, rec, nil
}

func (s *jsonlSource) values(col int, dst []float64) ([]float64, error) {
	raw, ok := s.rec[s.cols[col]]
	if !ok {
		return dst, errors.New("missing")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return dst, err
	}
	return flattenJSON(v, dst, 0)
}

func flattenJSON(v any, dst []float64, depth int) ([]float64, error) {
	if depth > 32 {
		return dst, errors.New("arrays nested deeper than 32 levels")
	}
	switch x := v.(type) {
	case float64:
		return append(dst, x), nil
	case bool:
		if x {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case nil:
		return append(dst, math.NaN()), nil
	case []any:
		var err error
		for _, e := range x {
			if dst, err = flattenJSON(e, dst, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case string:
		return dst, fmt.Errorf("%q is a string, not a number", truncate(x, 40))
	}
	return dst, errors.New("objects are not numeric values")
}

func (s *jsonlSource) position() string { return fmt.Sprintf("JSONL line %d", s.line) }
func (s *jsonlSource) close() error     { return s.closer.Close() }
