package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

// Dataset is a whole dataset held in memory, one contiguous buffer per
// model input, so a training loop can visit the rows in a fresh seeded
// order every epoch and a validation split can be cut without re-reading
// the file. ReadAll fills it through Open, so formats, preprocessing and
// shape checks are the same as for streamed evaluation.
//
// A training loop reads:
//
//	ds, err := data.ReadAll(ctx, spec) // spec.Inputs from infer.Inputs(sess.Inputs())
//	train, val, err := ds.Split(0.1, seed)
//	for epoch := 0; epoch < epochs; epoch++ {
//		for _, idx := range train.Epoch(batchSize, seed, epoch) {
//			b := train.Batch(idx)
//			x := b.Inputs["input"].Float32s() // features, row-major
//			y := b.Labels.Int64s()            // class ids
//			...
//		}
//	}
//	rep, err := eval.Run(ctx, rt, eval.Request{..., Dataset: val})
type Dataset struct {
	Rows    int
	Columns []Column // one per model input, in the order Source.Inputs gave
	// Labels are Int64 (integer labels) or Float64, shape [Rows] or
	// [Rows, k]; nil when the data has no labels.
	Labels *Tensor
	// Origin is the row number in the data file of each row (set by Subset
	// and Split); nil means row i is file row i. Messages name file rows.
	Origin []int
}

// Column is one model input's rows.
type Column struct {
	Name     string // the model input it feeds
	DType    DType
	RowShape []int64 // one row, without the batch dimension
	Data     []byte  // Rows × RowBytes, little-endian
}

// RowBytes is the size of one row.
func (c *Column) RowBytes() int { return int(numElems(c.RowShape)) * c.DType.Size() }

// The random streams derived from a seed: each use draws from its own
// stream, so adding a use never shifts another and the same seed always
// gives the same split and the same epoch orders.
const (
	splitStream   = 0x5e11
	shuffleStream = 0x5400 // + epoch
)

// ReadAll reads every row of spec into memory.
func ReadAll(ctx context.Context, spec Spec) (*Dataset, error) {
	src, err := Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ds, err := FromSource(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Path, err)
	}
	return ds, nil
}

// FromSource drains src into memory. Every row of an input must have the
// same shape (a dynamic dimension may not change between batches).
func FromSource(ctx context.Context, src Source) (*Dataset, error) {
	ds := &Dataset{}
	for _, in := range src.Inputs() {
		ds.Columns = append(ds.Columns, Column{Name: in.Name, DType: in.DType})
	}
	var labels []byte
	var labelRow []int64
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for i := range ds.Columns {
			c := &ds.Columns[i]
			t := b.Inputs[c.Name]
			if t == nil || len(t.Shape) == 0 {
				return nil, fmt.Errorf("input %q is missing from the batch at row %d", c.Name, b.Offset)
			}
			if c.RowShape == nil {
				c.RowShape = append([]int64{}, t.Shape[1:]...)
			} else if !equalShape(c.RowShape, t.Shape[1:]) {
				return nil, fmt.Errorf("input %q: rows %d.. have shape %s, earlier rows %s; holding the data in memory needs every row shaped alike",
					c.Name, b.Offset, FormatShape(t.Shape[1:]), FormatShape(c.RowShape))
			}
			c.Data = append(c.Data, t.Data...)
		}
		if b.Labels != nil {
			if ds.Labels == nil {
				ds.Labels = &Tensor{DType: b.Labels.DType}
				labelRow = append([]int64{}, b.Labels.Shape[1:]...)
			}
			labels = append(labels, b.Labels.Data...)
		}
		ds.Rows += b.Rows
	}
	if ds.Labels != nil {
		ds.Labels.Data = labels
		ds.Labels.Shape = append([]int64{int64(ds.Rows)}, labelRow...)
	}
	return ds, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FileRow is the data-file row number of row i.
func (d *Dataset) FileRow(i int) int {
	if d.Origin == nil {
		return i
	}
	return d.Origin[i]
}

func (d *Dataset) labelBytes() int {
	if d.Labels == nil || d.Rows == 0 {
		return 0
	}
	return len(d.Labels.Data) / d.Rows
}

// Batch gathers rows idx (in that order) into a new batch; the caller may
// keep or change it. Its Origin holds the file rows, for messages.
func (d *Dataset) Batch(idx []int) *Batch {
	n := len(idx)
	b := &Batch{Rows: n, Inputs: make(map[string]*Tensor, len(d.Columns)), Origin: make([]int, n)}
	for j, i := range idx {
		b.Origin[j] = d.FileRow(i)
	}
	if n > 0 {
		b.Offset = b.Origin[0]
	}
	for ci := range d.Columns {
		c := &d.Columns[ci]
		w := c.RowBytes()
		t := &Tensor{DType: c.DType, Shape: append([]int64{int64(n)}, c.RowShape...), Data: make([]byte, n*w)}
		for j, i := range idx {
			copy(t.Data[j*w:], c.Data[i*w:(i+1)*w])
		}
		b.Inputs[c.Name] = t
	}
	if d.Labels != nil {
		w := d.labelBytes()
		t := &Tensor{DType: d.Labels.DType, Shape: append([]int64{int64(n)}, d.Labels.Shape[1:]...), Data: make([]byte, n*w)}
		for j, i := range idx {
			copy(t.Data[j*w:], d.Labels.Data[i*w:(i+1)*w])
		}
		b.Labels = t
	}
	return b
}

// Subset copies rows idx into a new dataset.
func (d *Dataset) Subset(idx []int) *Dataset {
	b := d.Batch(idx)
	out := &Dataset{Rows: len(idx), Labels: b.Labels, Origin: b.Origin}
	for _, c := range d.Columns {
		nc := c
		nc.RowShape = append([]int64{}, c.RowShape...)
		nc.Data = b.Inputs[c.Name].Data
		out.Columns = append(out.Columns, nc)
	}
	return out
}

// Split holds out round(frac × Rows) rows, chosen by seed, for validation.
func (d *Dataset) Split(frac float64, seed uint64) (train, val *Dataset, err error) {
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("validation share %v must lie strictly between 0 and 1, e.g. 0.1", frac)
	}
	nVal := int(math.Round(frac * float64(d.Rows)))
	if nVal < 1 || nVal >= d.Rows {
		return nil, nil, fmt.Errorf("a validation share of %v of %d rows leaves no validation or no training rows", frac, d.Rows)
	}
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(d.Rows)
	return d.Subset(perm[nVal:]), d.Subset(perm[:nVal]), nil
}

// Shuffle is the visiting order of epoch (0-based) over rows rows: a fresh
// permutation per epoch that depends only on seed and epoch, so a resumed
// run shuffles exactly as an uninterrupted one.
func Shuffle(rows int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, shuffleStream+uint64(epoch))).Perm(rows)
}

// Epoch cuts Shuffle(Rows, seed, epoch) into batches of batchSize row
// indices; the last batch may be shorter. Pass each to Batch.
func (d *Dataset) Epoch(batchSize int, seed uint64, epoch int) [][]int {
	return chunks(Shuffle(d.Rows, seed, epoch), batchSize)
}

func chunks(order []int, size int) [][]int {
	if size <= 0 {
		size = 32
	}
	var out [][]int
	for s := 0; s < len(order); s += size {
		out = append(out, order[s:min(s+size, len(order))])
	}
	return out
}

// Source reads the rows in order, batchSize at a time (0 means 32), so
// anything that takes a Source (inference, eval) runs on memory.
func (d *Dataset) Source(batchSize int) Source {
	order := make([]int, d.Rows)
	for i := range order {
		order[i] = i
	}
	return &memSource{d: d, batches: chunks(order, batchSize)}
}

type memSource struct {
	d       *Dataset
	batches [][]int
	next    int
}

func (s *memSource) Next(ctx context.Context) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.batches) {
		return nil, io.EOF
	}
	b := s.d.Batch(s.batches[s.next])
	s.next++
	return b, nil
}

func (s *memSource) Rows() int64 { return int64(s.d.Rows) }

func (s *memSource) Inputs() []InputInfo {
	out := make([]InputInfo, len(s.d.Columns))
	for i, c := range s.d.Columns {
		out[i] = InputInfo{Name: c.Name, DType: c.DType, Shape: append([]int64{-1}, c.RowShape...)}
	}
	return out
}

func (s *memSource) HasLabels() bool { return s.d.Labels != nil }
func (s *memSource) Close() error    { return nil }
