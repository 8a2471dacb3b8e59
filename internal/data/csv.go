package data

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// csvSource reads a CSV file with a header row (or numbered columns when
// the file has none). Empty cells and NA/NaN read as NaN.
type csvSource struct {
	r      *csv.Reader
	closer io.Closer
	cols   []string
	rec    []string
	line   int
	held   bool // header-less file: the first record is data, served by the first next
}

func newCSVSource(rc io.ReadCloser, noHeader bool, comma rune) (*csvSource, error) {
	r := csv.NewReader(rc)
	r.Comma = comma
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	s := &csvSource{r: r, closer: rc}
	first, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("the CSV file is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV: %w", err)
	}
	if noHeader {
		for i := range first {
			s.cols = append(s.cols, strconv.Itoa(i))
		}
		s.rec = append([]string(nil), first...)
		s.line, s.held = 1, true
		return s, nil
	}
	seen := map[string]bool{}
	for i, c := range first {
		c = strings.TrimSpace(c)
		if i == 0 {
			c = strings.TrimPrefix(c, "\ufeff")
		}
		if seen[c] {
			return nil, fmt.Errorf("CSV header has column %q twice; rename one", c)
		}
		seen[c] = true
		s.cols = append(s.cols, c)
	}
	s.line = 1
	return s, nil
}

func (s *csvSource) columns() []string { return s.cols }

func (s *csvSource) next() error {
	if s.held {
		s.held = false
		return nil
	}
	rec, err := s.r.Read()
	if err == io.EOF {
		return io.EOF
	}
	s.line++
	if err != nil {
		return fmt.Errorf("CSV line %d: %w", s.line, err)
	}
	s.rec = rec
	return nil
}

func (s *csvSource) values(col int, dst []float64) ([]float64, error) {
	if col >= len(s.rec) {
		return dst, fmt.Errorf("missing (the record has %d fields)", len(s.rec))
	}
	c := strings.TrimSpace(s.rec[col])
	switch strings.ToLower(c) {
	case "", "na", "nan", "null":
		return append(dst, math.NaN()), nil
	}
	v, err := strconv.ParseFloat(c, 64)
	if err != nil {
		return dst, fmt.Errorf("%q is not a number", truncate(c, 40))
	}
	return append(dst, v), nil
}

func (s *csvSource) position() string { return fmt.Sprintf("CSV line %d", s.line) }
func (s *csvSource) close() error     { return s.closer.Close() }
