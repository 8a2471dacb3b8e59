package infer

import "github.com/mlops-dev/mlops/internal/data"

// Progress is told after each batch of a pass over data how many rows are
// done and how many the pass has (-1 when the source cannot tell); stage
// names the pass ("calibrate", "evaluate model.onnx"). The CLI draws it as a
// progress bar on a terminal; a nil Progress reports nothing.
type Progress func(stage string, done, total int64)

// Batch reports batch b of src, when p is set.
func (p Progress) Batch(stage string, src data.Source, b *data.Batch) {
	if p != nil {
		p(stage, int64(b.Offset+b.Rows), src.Rows())
	}
}
