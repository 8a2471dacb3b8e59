package data

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// parquetSource reads rows of a Parquet file. Leaf columns are named by
// their dotted path; numeric and boolean leaves are supported, repeated
// leaves (lists) become fixed-width row vectors.
type parquetSource struct {
	f      *os.File
	r      *parquet.GenericReader[any]
	cols   []string
	buf    []parquet.Row
	n, i   int
	row    int64
	colIdx [][2]int // per leaf column: [start,end) into the current row
}

func newParquetSource(path string) (*parquetSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a readable Parquet file: %w", path, err)
	}
	s := &parquetSource{f: f, r: parquet.NewGenericReader[any](pf), buf: make([]parquet.Row, 256)}
	for _, c := range pf.Schema().Columns() {
		s.cols = append(s.cols, strings.Join(c, "."))
	}
	s.colIdx = make([][2]int, len(s.cols))
	return s, nil
}

func (s *parquetSource) columns() []string { return s.cols }

func (s *parquetSource) next() error {
	if s.i+1 >= s.n {
		n, err := s.r.ReadRows(s.buf)
		if n == 0 {
			if err == nil || err == io.EOF {
				return io.EOF
			}
			return fmt.Errorf("Parquet row %d: %w", s.row+1, err)
		}
		s.n, s.i = n, 0
	} else {
		s.i++
	}
	s.row++
	for c := range s.colIdx {
		s.colIdx[c] = [2]int{-1, -1}
	}
	row := s.buf[s.i]
	for j, v := range row {
		c := v.Column()
		if c < 0 || c >= len(s.colIdx) {
			continue
		}
		if s.colIdx[c][0] < 0 {
			s.colIdx[c][0] = j
		}
		s.colIdx[c][1] = j + 1
	}
	return nil
}

func (s *parquetSource) values(col int, dst []float64) ([]float64, error) {
	r := s.colIdx[col]
	if r[0] < 0 {
		return dst, nil
	}
	for _, v := range s.buf[s.i][r[0]:r[1]] {
		if v.IsNull() {
			dst = append(dst, math.NaN())
			continue
		}
		switch v.Kind() {
		case parquet.Boolean:
			if v.Boolean() {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		case parquet.Int32:
			dst = append(dst, float64(v.Int32()))
		case parquet.Int64:
			dst = append(dst, float64(v.Int64()))
		case parquet.Float:
			dst = append(dst, float64(v.Float()))
		case parquet.Double:
			dst = append(dst, v.Double())
		default:
			return dst, fmt.Errorf("has non-numeric Parquet type %s", v.Kind())
		}
	}
	return dst, nil
}

func (s *parquetSource) position() string { return fmt.Sprintf("Parquet row %d", s.row) }

func (s *parquetSource) close() error {
	s.r.Close()
	return s.f.Close()
}
