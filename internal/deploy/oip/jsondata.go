package oip

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// decodeData flattens a JSON "data" value (nested or flat arrays, row-major)
// into a tensor of n elements of datatype dt. It scans the bytes directly:
// going through encoding/json's []any would allocate one interface per
// element, which dominates the cost of a request for image-sized inputs.
func decodeData(raw []byte, dt Datatype, n int64) (data []byte, strs [][]byte, err error) {
	// Every JSON element takes at least one byte, so a shape that claims more
	// elements than the body has bytes is wrong; checking first bounds what we
	// allocate by the request size.
	if n > int64(len(raw)) {
		return nil, nil, fmt.Errorf("shape needs %d elements but data has at most %d", n, len(raw))
	}
	size := dt.Size()
	if dt == BYTES {
		strs = make([][]byte, 0, n)
	} else {
		data = make([]byte, 0, n*int64(size))
	}
	s := scanner{b: raw}
	count := int64(0)
	err = s.walk(func(tok []byte, kind tokKind) error {
		if count == n {
			return fmt.Errorf("more than the %d elements the shape needs", n)
		}
		count++
		if dt == BYTES {
			if kind != tokString {
				return fmt.Errorf("element %d: BYTES elements must be JSON strings, got %.20s", count-1, tok)
			}
			v, err := unquote(tok)
			if err != nil {
				return fmt.Errorf("element %d: %w", count-1, err)
			}
			strs = append(strs, v)
			return nil
		}
		data, err = appendElement(data, dt, tok, kind)
		if err != nil {
			return fmt.Errorf("element %d: %w", count-1, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if count != n {
		return nil, nil, fmt.Errorf("shape needs %d elements, data has %d", n, count)
	}
	return data, strs, nil
}

func unquote(tok []byte) ([]byte, error) {
	inner := tok[1 : len(tok)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return append([]byte(nil), inner...), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return nil, fmt.Errorf("bad JSON string: %w", err)
	}
	return []byte(s), nil
}

// appendElement parses one scalar token as dt and appends its little-endian bytes.
func appendElement(b []byte, dt Datatype, tok []byte, kind tokKind) ([]byte, error) {
	if dt == BOOL {
		switch string(tok) {
		case "true", "1":
			return append(b, 1), nil
		case "false", "0":
			return append(b, 0), nil
		}
		return nil, fmt.Errorf("BOOL wants true or false, got %.20s", tok)
	}
	if dt.isFloat() {
		f, err := parseFloat(tok, kind)
		if err != nil {
			return nil, err
		}
		switch dt {
		case FP16:
			return binary.LittleEndian.AppendUint16(b, float32ToHalf(float32(f))), nil
		case BF16:
			return binary.LittleEndian.AppendUint16(b, float32ToBF16(float32(f))), nil
		case FP32:
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
		default:
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
		}
	}
	if kind != tokNumber {
		return nil, fmt.Errorf("%s wants an integer, got %.20s", dt, tok)
	}
	bits := dt.Size() * 8
	if dt == UINT8 || dt == UINT16 || dt == UINT32 || dt == UINT64 {
		u, err := strconv.ParseUint(string(tok), 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s wants an integer in range, got %.20s", dt, tok)
		}
		return appendUint(b, u, dt.Size()), nil
	}
	i, err := strconv.ParseInt(string(tok), 10, bits)
	if err != nil {
		return nil, fmt.Errorf("%s wants an integer in range, got %.20s", dt, tok)
	}
	return appendUint(b, uint64(i), dt.Size()), nil
}

func appendUint(b []byte, u uint64, size int) []byte {
	switch size {
	case 1:
		return append(b, byte(u))
	case 2:
		return binary.LittleEndian.AppendUint16(b, uint16(u))
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(u))
	}
	return binary.LittleEndian.AppendUint64(b, u)
}

// parseFloat accepts JSON numbers and, because JSON has no literal for them,
// the strings "NaN", "Infinity" and "-Infinity" (what our encoder writes).
func parseFloat(tok []byte, kind tokKind) (float64, error) {
	switch kind {
	case tokNumber:
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("bad number %.20s", tok)
		}
		return f, nil
	case tokString:
		switch string(tok) {
		case `"NaN"`:
			return math.NaN(), nil
		case `"Infinity"`, `"inf"`, `"Inf"`:
			return math.Inf(1), nil
		case `"-Infinity"`, `"-inf"`, `"-Inf"`:
			return math.Inf(-1), nil
		}
	}
	return 0, fmt.Errorf("wants a number, got %.20s", tok)
}

type tokKind int

const (
	tokNumber tokKind = iota
	tokString
	tokLiteral
)

// scanner walks the scalars of a JSON array of arbitrary nesting.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// walk calls fn for every scalar in order. It accepts only arrays, scalars
// and commas in the right places, and at most maxDepth levels of nesting.
func (s *scanner) walk(fn func(tok []byte, kind tokKind) error) error {
	const maxDepth = 32
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return errors.New("data must be a JSON array")
	}
	depth := 0
	expectValue := true // after '[' or ',': a value or (after '[') a ']'
	afterOpen := false
	for {
		s.skipSpace()
		if s.i >= len(s.b) {
			return errors.New("data array is not closed")
		}
		c := s.b[s.i]
		switch {
		case c == '[':
			if !expectValue {
				return fmt.Errorf("unexpected '[' at byte %d of data", s.i)
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("data nests deeper than %d levels", maxDepth)
			}
			s.i++
			afterOpen = true
			continue
		case c == ']':
			if expectValue && !afterOpen {
				return fmt.Errorf("unexpected ']' at byte %d of data", s.i)
			}
			depth--
			s.i++
			expectValue = false
			afterOpen = false
			if depth == 0 {
				s.skipSpace()
				if s.i != len(s.b) {
					return fmt.Errorf("unexpected bytes after data at byte %d", s.i)
				}
				return nil
			}
			continue
		case c == ',':
			if expectValue {
				return fmt.Errorf("unexpected ',' at byte %d of data", s.i)
			}
			s.i++
			expectValue = true
			afterOpen = false
			continue
		}
		if !expectValue {
			return fmt.Errorf("missing ',' at byte %d of data", s.i)
		}
		tok, kind, err := s.scalar()
		if err != nil {
			return err
		}
		if err := fn(tok, kind); err != nil {
			return err
		}
		expectValue = false
		afterOpen = false
	}
}

func (s *scanner) scalar() ([]byte, tokKind, error) {
	start := s.i
	c := s.b[s.i]
	switch {
	case c == '"':
		s.i++
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '\\':
				s.i += 2
				continue
			case '"':
				s.i++
				return s.b[start:s.i], tokString, nil
			}
			s.i++
		}
		return nil, 0, errors.New("unterminated string in data")
	case c == '-' || (c >= '0' && c <= '9'):
		for s.i < len(s.b) {
			c := s.b[s.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				s.i++
				continue
			}
			break
		}
		return s.b[start:s.i], tokNumber, nil
	case c >= 'a' && c <= 'z':
		for s.i < len(s.b) && s.b[s.i] >= 'a' && s.b[s.i] <= 'z' {
			s.i++
		}
		switch string(s.b[start:s.i]) {
		case "true", "false":
			return s.b[start:s.i], tokLiteral, nil
		}
		return nil, 0, fmt.Errorf("unexpected %q in data", s.b[start:s.i])
	}
	return nil, 0, fmt.Errorf("unexpected %q at byte %d of data", c, s.i)
}

// appendData writes the elements of t as a flat JSON array.
func appendData(b []byte, t *Tensor) []byte {
	b = append(b, '[')
	if t.Datatype == BYTES {
		for i, s := range t.Strings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']')
	}
	n := t.Len()
	d := t.Data
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		switch t.Datatype {
		case BOOL:
			b = strconv.AppendBool(b, d[i] != 0)
		case UINT8:
			b = strconv.AppendUint(b, uint64(d[i]), 10)
		case INT8:
			b = strconv.AppendInt(b, int64(int8(d[i])), 10)
		case UINT16:
			b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint16(d[2*i:])), 10)
		case INT16:
			b = strconv.AppendInt(b, int64(int16(binary.LittleEndian.Uint16(d[2*i:]))), 10)
		case UINT32:
			b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(d[4*i:])), 10)
		case INT32:
			b = strconv.AppendInt(b, int64(int32(binary.LittleEndian.Uint32(d[4*i:]))), 10)
		case UINT64:
			b = strconv.AppendUint(b, binary.LittleEndian.Uint64(d[8*i:]), 10)
		case INT64:
			b = strconv.AppendInt(b, int64(binary.LittleEndian.Uint64(d[8*i:])), 10)
		case FP16:
			b = appendFloat(b, float64(halfToFloat32(binary.LittleEndian.Uint16(d[2*i:]))), 32)
		case BF16:
			b = appendFloat(b, float64(bf16ToFloat32(binary.LittleEndian.Uint16(d[2*i:]))), 32)
		case FP32:
			b = appendFloat(b, float64(math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))), 32)
		case FP64:
			b = appendFloat(b, math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])), 64)
		}
	}
	return append(b, ']')
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendJSONString(b []byte, s []byte) []byte {
	q, _ := json.Marshal(string(s)) // marshalling a string cannot fail
	return append(b, q...)
}
