package retrain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/data"
)

// column is one model input held in memory: rows of rowBytes each.
type column struct {
	name     string
	dtype    data.DType
	rowShape []int64 // without the batch dimension
	rowBytes int
	data     []byte
}

// dataset is a training or validation set held in memory, so every epoch
// can visit the rows in a fresh seeded order. It is read once through the
// data layer (formats, preprocessing and shape checks are eval's).
type dataset struct {
	rows    int
	cols    []column
	labels  *data.Tensor // Int64 or Float64, [rows] or [rows, k]; nil without labels
	teacher []float32    // teacher logits, rows × teacherK; nil without a teacher
	k       int          // teacher logits per row
	origin  []int        // row numbers in the file (nil: 0, 1, 2, ...), for messages
}

// fileRow is the row number of row i in the data file.
func (d *dataset) fileRow(i int) int {
	if d.origin == nil {
		return i
	}
	return d.origin[i]
}

// loadDataset streams spec into memory.
func loadDataset(ctx context.Context, spec data.Spec) (*dataset, error) {
	src, err := data.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ds := &dataset{}
	for _, in := range src.Inputs() {
		rowShape := append([]int64(nil), in.Shape[1:]...)
		n := 1
		for _, d := range rowShape {
			n *= int(d)
		}
		ds.cols = append(ds.cols, column{name: in.Name, dtype: in.DType, rowShape: rowShape, rowBytes: n * in.DType.Size()})
	}
	var labels [][]byte
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for i := range ds.cols {
			t := b.Inputs[ds.cols[i].name]
			if len(t.Data) != b.Rows*ds.cols[i].rowBytes {
				return nil, fmt.Errorf("input %q: rows of %s do not have a fixed shape; training needs every row shaped alike", ds.cols[i].name, data.FormatShape(t.Shape))
			}
			ds.cols[i].data = append(ds.cols[i].data, t.Data...)
		}
		if b.Labels != nil {
			if ds.labels == nil {
				ds.labels = &data.Tensor{DType: b.Labels.DType, Shape: append([]int64{0}, b.Labels.Shape[1:]...)}
			}
			labels = append(labels, b.Labels.Data)
			ds.labels.Shape[0] += b.Labels.Shape[0]
		}
		ds.rows += b.Rows
	}
	if ds.labels != nil {
		for _, l := range labels {
			ds.labels.Data = append(ds.labels.Data, l...)
		}
	}
	return ds, nil
}

// labelWidth is the number of label values per row.
func (d *dataset) labelWidth() int {
	if d.labels == nil || d.rows == 0 {
		return 0
	}
	return d.labels.Len() / d.rows
}

// subset copies the given rows into a new dataset.
func (d *dataset) subset(idx []int) *dataset {
	out := &dataset{rows: len(idx), k: d.k}
	for _, i := range idx {
		out.origin = append(out.origin, d.fileRow(i))
	}
	for _, c := range d.cols {
		nc := c
		nc.data = make([]byte, 0, len(idx)*c.rowBytes)
		for _, i := range idx {
			nc.data = append(nc.data, c.data[i*c.rowBytes:(i+1)*c.rowBytes]...)
		}
		out.cols = append(out.cols, nc)
	}
	if d.labels != nil {
		w := d.labelWidth() * 8
		l := &data.Tensor{DType: d.labels.DType, Shape: append([]int64{int64(len(idx))}, d.labels.Shape[1:]...)}
		for _, i := range idx {
			l.Data = append(l.Data, d.labels.Data[i*w:(i+1)*w]...)
		}
		out.labels = l
	}
	if d.teacher != nil {
		for _, i := range idx {
			out.teacher = append(out.teacher, d.teacher[i*d.k:(i+1)*d.k]...)
		}
	}
	return out
}

// split holds out a seeded random share of the rows for validation.
func (d *dataset) split(frac float64, seed uint64) (train, val *dataset, err error) {
	nVal := int(math.Round(frac * float64(d.rows)))
	if nVal < 1 || nVal >= d.rows {
		return nil, nil, fmt.Errorf("--val-split %v of %d rows leaves no validation or no training rows", frac, d.rows)
	}
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(d.rows)
	return d.subset(perm[nVal:]), d.subset(perm[:nVal]), nil
}

// RNG streams: each use of the seed draws from its own stream, so adding one
// use never shifts another.
const (
	splitStream   = 0x5e11
	shuffleStream = 0x5400
	reinitStream  = 0x1417
)

// order is the visiting order of epoch (0-based): a fresh permutation per
// epoch that depends only on the seed and the epoch, so a resumed run
// shuffles exactly as an uninterrupted one.
func order(rows int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, shuffleStream+uint64(epoch))).Perm(rows)
}

// batchRows gathers the rows idx of every column into contiguous buffers.
func (d *dataset) batchRows(idx []int) [][]byte {
	out := make([][]byte, len(d.cols))
	for ci, c := range d.cols {
		b := make([]byte, len(idx)*c.rowBytes)
		for j, i := range idx {
			copy(b[j*c.rowBytes:], c.data[i*c.rowBytes:(i+1)*c.rowBytes])
		}
		out[ci] = b
	}
	return out
}

// labelRows gathers labels of idx (8-byte elements).
func (d *dataset) labelRows(idx []int) []byte {
	w := d.labelWidth() * 8
	b := make([]byte, len(idx)*w)
	for j, i := range idx {
		copy(b[j*w:], d.labels.Data[i*w:(i+1)*w])
	}
	return b
}

// teacherRows gathers teacher logits of idx.
func (d *dataset) teacherRows(idx []int) []float32 {
	out := make([]float32, len(idx)*d.k)
	for j, i := range idx {
		copy(out[j*d.k:], d.teacher[i*d.k:(i+1)*d.k])
	}
	return out
}
