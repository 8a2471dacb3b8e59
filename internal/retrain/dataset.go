package retrain

import (
	"context"
	"fmt"

	"github.com/mlops-dev/mlops/internal/data"
)

// dataset is a training or validation set held in memory (data.Dataset:
// read once through the data layer, so formats, preprocessing and shape
// checks are eval's) with the teacher's logits of each row when distilling.
type dataset struct {
	*data.Dataset
	teacher []float32 // teacher logits, Rows × k; nil without a teacher
	k       int       // teacher logits per row
}

// loadDataset reads spec into memory.
func loadDataset(ctx context.Context, spec data.Spec) (*dataset, error) {
	d, err := data.ReadAll(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &dataset{Dataset: d}, nil
}

// labelWidth is the number of label values per row.
func (d *dataset) labelWidth() int {
	if d.Labels == nil || d.Rows == 0 {
		return 0
	}
	return d.Labels.Len() / d.Rows
}

// split holds out a seeded random share of the rows for validation (the
// same rows data.Dataset.Split picks).
func (d *dataset) split(frac float64, seed uint64) (train, val *dataset, err error) {
	tr, va, err := d.Split(frac, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("--val-split: %w", err)
	}
	train, val = &dataset{Dataset: tr, k: d.k}, &dataset{Dataset: va, k: d.k}
	if d.teacher != nil {
		// Split's rows are identified by their file rows (Origin).
		train.teacher, val.teacher = d.teacherRows(tr.Origin), d.teacherRows(va.Origin)
	}
	return train, val, nil
}

// batchRows gathers the rows idx of every column into contiguous buffers.
func (d *dataset) batchRows(idx []int) [][]byte {
	b := d.Batch(idx)
	out := make([][]byte, len(d.Columns))
	for ci, c := range d.Columns {
		out[ci] = b.Inputs[c.Name].Data
	}
	return out
}

// labelRows gathers labels of idx (8-byte elements).
func (d *dataset) labelRows(idx []int) []byte {
	w := d.labelWidth() * 8
	b := make([]byte, len(idx)*w)
	for j, i := range idx {
		copy(b[j*w:], d.Labels.Data[i*w:(i+1)*w])
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
