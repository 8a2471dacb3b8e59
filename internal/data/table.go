package data

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// recordSource is one row-oriented file (CSV, JSONL, Parquet): named columns,
// each holding a number or a fixed-length list of numbers per record.
type recordSource interface {
	columns() []string
	next() error                                      // advance to the next record; io.EOF at the end
	values(col int, dst []float64) ([]float64, error) // append column col of the current record
	position() string                                 // "line 12" for error messages
	close() error
}

// tableReader adapts a recordSource to the reader interface: each column is
// a float64 field whose row width is taken from the first record.
type tableReader struct {
	src     recordSource
	cols    []string
	widths  []int // -1: not numeric in the first record
	used    []int
	pending bool // the first record was peeked and not yet consumed
	eof     bool
}

func newTableReader(src recordSource) (*tableReader, error) {
	t := &tableReader{src: src, cols: src.columns()}
	err := src.next()
	if err == io.EOF {
		t.eof = true
	} else if err != nil {
		return nil, err
	} else {
		t.pending = true
	}
	t.cols = src.columns() // JSONL learns its columns from the first record
	t.widths = make([]int, len(t.cols))
	var buf []float64
	for i := range t.cols {
		t.widths[i] = -1
		if t.eof {
			t.widths[i] = 1 // no records: let Next report the empty file
		}
		if t.pending {
			if v, err := src.values(i, buf[:0]); err == nil {
				t.widths[i] = len(v)
			}
		}
	}
	return t, nil
}

func (t *tableReader) fields() []field {
	out := make([]field, len(t.cols))
	for i, c := range t.cols {
		out[i] = field{Name: c, DType: Float64, RowShape: []int64{int64(t.widths[i])}, table: true}
		if t.widths[i] < 0 {
			out[i].DType = Invalid
		}
		if t.widths[i] == 1 {
			out[i].RowShape = nil
		}
	}
	return out
}

func (t *tableReader) rows() int64 { return -1 }

func (t *tableReader) use(names []string) error {
	idx := map[string]int{}
	for i, c := range t.cols {
		idx[c] = i
	}
	t.used = t.used[:0]
	for _, n := range names {
		i, ok := idx[n]
		if !ok {
			return fmt.Errorf("column %q not found", n)
		}
		if t.widths[i] < 0 && !t.eof {
			var buf []float64
			_, err := t.src.values(i, buf)
			return fmt.Errorf("column %q is not numeric: %v", n, err)
		}
		t.used = append(t.used, i)
	}
	return nil
}

func (t *tableReader) read(ctx context.Context, n int) (map[string]*Tensor, int, error) {
	if t.eof && !t.pending {
		return nil, 0, io.EOF
	}
	vals := make([][]float64, len(t.used))
	rows := 0
	var buf []float64
	for rows < n {
		if !t.pending {
			err := t.src.next()
			if err == io.EOF {
				t.eof = true
				break
			}
			if err != nil {
				return nil, 0, err
			}
		}
		t.pending = false
		if rows&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		for k, ci := range t.used {
			var err error
			buf, err = t.src.values(ci, buf[:0])
			if err != nil {
				return nil, 0, fmt.Errorf("%s: column %q: %w", t.src.position(), t.cols[ci], err)
			}
			if len(buf) != t.widths[ci] {
				return nil, 0, fmt.Errorf("%s: column %q has %d values but the first record had %d; every record needs the same length", t.src.position(), t.cols[ci], len(buf), t.widths[ci])
			}
			vals[k] = append(vals[k], buf...)
		}
		rows++
	}
	if rows == 0 {
		return nil, 0, io.EOF
	}
	out := make(map[string]*Tensor, len(t.used))
	for k, ci := range t.used {
		shape := []int64{int64(rows)}
		if t.widths[ci] != 1 {
			shape = append(shape, int64(t.widths[ci]))
		}
		b := make([]byte, 8*len(vals[k]))
		for i, v := range vals[k] {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		out[t.cols[ci]] = &Tensor{DType: Float64, Shape: shape, Data: b}
	}
	return out, rows, nil
}

func (t *tableReader) close() error { return t.src.close() }
