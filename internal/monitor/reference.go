package monitor

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlops-dev/mlops/internal/data"
)

// IsPayloadLog reports whether loc holds payload logs rather than a dataset: a folder, a blob URL, a
// .jsonl.gz file, or a .jsonl file whose first line is a payload-log record.
func IsPayloadLog(loc string) (bool, error) {
	if strings.Contains(loc, "://") {
		return true, nil
	}
	fi, err := os.Stat(loc)
	if err != nil {
		return false, err
	}
	if fi.IsDir() {
		return true, nil
	}
	if !strings.HasSuffix(loc, ".jsonl") && !strings.HasSuffix(loc, ".jsonl.gz") {
		return false, nil
	}
	f, err := os.Open(loc)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(loc, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false, fmt.Errorf("%s: not gzip data: %w", loc, err)
		}
		defer zr.Close()
		r = zr
	}
	line, err := bufio.NewReaderSize(r, 1<<20).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return false, err
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line over a megabyte is a tensor-bearing record, not a table row.
		return true, nil
	}
	_, derr := DecodeRecord(line)
	return derr == nil, nil
}

// readReferenceData reads a dataset (.npy, .npz, CSV, JSONL, Parquet) through internal/data into
// columns matching the current frame's inputs.
//
// With labelsPath set, the reference's true classes fill the frame's prediction column, so the
// current predicted-class distribution can be compared with the reference class distribution.
func readReferenceData(ctx context.Context, path, labelsPath string, schema []TensorSchema, limit int, dict *Dictionary) (*Frame, error) {
	inputs := make([]data.InputInfo, 0, len(schema))
	for _, t := range schema {
		if t.Categorical {
			return nil, fmt.Errorf("input %q holds strings or booleans in the logs; give the reference as payload logs (a folder or .jsonl) instead of a dataset", t.Name)
		}
		inputs = append(inputs, data.InputInfo{Name: t.Name, Shape: []int64{-1, int64(t.Width)}})
	}
	src, err := data.Open(ctx, data.Spec{
		Path: path, LabelsPath: labelsPath, Inputs: inputs, BatchSize: 1024, Limit: limit,
		Preprocess: data.Preprocess{Reshape: true},
	})
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	defer src.Close()
	f := newFrame(schema, labelsPath != "")
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reference %s: %w", path, err)
		}
		c := 0
		for _, t := range schema {
			tensor, ok := b.Inputs[t.Name]
			if !ok {
				return nil, fmt.Errorf("reference %s: no data for input %q", path, t.Name)
			}
			vals := tensor.Float64s()
			if len(vals) != b.Rows*t.Width {
				return nil, fmt.Errorf("reference %s: input %q has %d values per row, the logs have %d", path, t.Name, len(vals)/max(b.Rows, 1), t.Width)
			}
			for i := 0; i < t.Width; i++ {
				col := &f.Columns[c+i]
				for k := 0; k < b.Rows; k++ {
					col.Values = append(col.Values, vals[k*t.Width+i])
				}
			}
			c += t.Width
		}
		if f.Prediction != nil {
			if b.Labels == nil {
				return nil, fmt.Errorf("reference labels %s: no labels in the batch", labelsPath)
			}
			for _, v := range b.Labels.Float64s() {
				f.Prediction.Values = append(f.Prediction.Values, dict.Code(formatNumber(v)))
			}
		}
	}
	if f.Rows() == 0 {
		return nil, fmt.Errorf("reference %s has no rows", path)
	}
	return f, nil
}
