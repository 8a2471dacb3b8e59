package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
)

func (s *source) Rows() int64 {
	n := s.data.rows()
	if n < 0 && s.labels != nil {
		n = s.labels.rows()
	}
	if s.spec.Limit > 0 && (n < 0 || n > int64(s.spec.Limit)) && n >= 0 {
		n = int64(s.spec.Limit)
	}
	return n
}

func (s *source) Inputs() []InputInfo {
	out := make([]InputInfo, len(s.binds))
	for i, b := range s.binds {
		out[i] = b.info
		out[i].Shape = append([]int64(nil), b.info.Shape...)
	}
	return out
}

func (s *source) HasLabels() bool { return s.labelFld != "" }

func (s *source) Close() error {
	err := s.data.close()
	if s.labels != nil {
		if lerr := s.labels.close(); err == nil {
			err = lerr
		}
	}
	return err
}

func (s *source) Next(ctx context.Context) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.done {
		return nil, io.EOF
	}
	n := s.batch
	if s.spec.Limit > 0 {
		n = min(n, s.spec.Limit-s.offset)
	}
	if n <= 0 {
		s.done = true
		return nil, io.EOF
	}
	chunk, rows, err := s.data.read(ctx, n)
	if errors.Is(err, io.EOF) {
		s.done = true
		if s.offset == 0 {
			return nil, fmt.Errorf("%s contains no rows", s.spec.Path)
		}
		if s.labels != nil && s.spec.Limit == 0 {
			if _, extra, lerr := s.labels.read(ctx, 1); lerr == nil && extra > 0 {
				return nil, fmt.Errorf("the labels file %s has more rows than the data (%d); they must match one to one", s.spec.LabelsPath, s.offset)
			}
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	b := &Batch{Offset: s.offset, Rows: rows, Inputs: map[string]*Tensor{}}
	for i := range s.binds {
		t, err := s.assemble(&s.binds[i], chunk, rows)
		if err != nil {
			return nil, err
		}
		b.Inputs[s.binds[i].info.Name] = t
	}
	if s.labelFld != "" {
		lt := chunk[s.labelFld]
		if s.labels != nil {
			lc, lrows, err := s.labels.read(ctx, rows)
			if errors.Is(err, io.EOF) || (err == nil && lrows < rows) {
				got := s.offset + lrows
				return nil, fmt.Errorf("the labels file %s has fewer rows (%d) than the data (at least %d); they must match one to one", s.spec.LabelsPath, got, s.offset+rows)
			}
			if err != nil {
				return nil, fmt.Errorf("labels: %w", err)
			}
			lt = lc[s.labelFld]
		}
		b.Labels = labelTensor(lt)
	}
	s.offset += rows
	return b, nil
}

// labelTensor widens integer labels to Int64 and float labels to Float64.
func labelTensor(t *Tensor) *Tensor {
	out := &Tensor{Shape: append([]int64(nil), t.Shape...)}
	n := t.Len()
	if t.DType.IsFloat() {
		out.DType = Float64
		out.Data = make([]byte, 8*n)
		for i := 0; i < n; i++ {
			encode(Float64, out.Data, i, decode(t.DType, t.Data, i))
		}
		return out
	}
	out.DType = Int64
	out.Data = make([]byte, 8*n)
	for i := 0; i < n; i++ {
		encode(Int64, out.Data, i, 0)
		v := decodeInt(t.DType, t.Data, i)
		for k := 0; k < 8; k++ {
			out.Data[8*i+k] = byte(uint64(v) >> (8 * k))
		}
	}
	return out
}

// assemble concatenates the bound fields row by row, preprocesses and casts
// them to the input's type, and rejects NaN unless allowed.
func (s *source) assemble(b *binding, chunk map[string]*Tensor, rows int) (*Tensor, error) {
	shape := append([]int64{int64(rows)}, b.info.Shape[1:]...)
	out := NewTensor(b.info.DType, shape)
	scale := s.spec.Preprocess.Scale
	if scale == 0 {
		scale = 1
	}
	pp := scale != 1 || b.mean != nil
	checkNaN := !s.spec.AllowNaN
	for r := 0; r < rows; r++ {
		o := r * b.rowElems
		for k, name := range b.fields {
			src := chunk[name]
			w := b.widths[k]
			for j := 0; j < w; j++ {
				v := decode(src.DType, src.Data, r*w+j)
				if checkNaN && math.IsNaN(v) {
					return nil, fmt.Errorf("input %q: row %d (field %q, element %d) is NaN; clean the data or pass --allow-nan", b.info.Name, s.offset+r, name, j)
				}
				if pp {
					v *= scale
					if b.mean != nil {
						c := ((o - r*b.rowElems) / b.chanDiv) % len(b.mean)
						v = (v - b.mean[c]) / b.std[c]
					}
				}
				encode(b.info.DType, out.Data, o, v)
				o++
			}
		}
	}
	return out, nil
}
