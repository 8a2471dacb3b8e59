package data

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Format names a file format. The zero value means "by extension".
type Format string

// Supported formats.
const (
	FormatAuto    Format = ""
	FormatNPY     Format = "npy"
	FormatNPZ     Format = "npz"
	FormatCSV     Format = "csv"
	FormatJSONL   Format = "jsonl"
	FormatParquet Format = "parquet"
)

// DetectFormat returns the format implied by a file name.
func DetectFormat(path string) (Format, error) {
	name := strings.ToLower(path)
	switch {
	case strings.HasSuffix(name, ".npy"):
		return FormatNPY, nil
	case strings.HasSuffix(name, ".npz"):
		return FormatNPZ, nil
	case strings.HasSuffix(name, ".csv"), strings.HasSuffix(name, ".csv.gz"), strings.HasSuffix(name, ".tsv"):
		return FormatCSV, nil
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".jsonl.gz"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return FormatJSONL, nil
	case strings.HasSuffix(name, ".parquet"), strings.HasSuffix(name, ".pq"):
		return FormatParquet, nil
	}
	return FormatAuto, fmt.Errorf("cannot tell the format of %s from its extension (want .npy, .npz, .csv, .jsonl or .parquet)", filepath.Base(path))
}

// InputInfo describes one model input the data must feed. Shape includes
// the batch dimension; -1 marks a dynamic dimension.
type InputInfo struct {
	Name  string
	DType DType
	Shape []int64
}

// Preprocess is applied to every input element as v = (v*Scale - Mean)/Std.
// Labels are never preprocessed.
type Preprocess struct {
	Scale float64   // 0 means 1
	Mean  []float64 // one value, or one per channel
	Std   []float64 // same length as Mean (or empty for 1)
	// ChannelsLast takes the channel axis as the last dimension (NHWC)
	// instead of dimension 1 (NCHW) when Mean/Std have several values.
	ChannelsLast bool
	// Reshape allows an array whose rows have the right number of elements
	// but another shape (e.g. [N,784] for an input [N,1,28,28]). Table
	// formats (CSV, JSONL, Parquet) are always reshaped.
	Reshape bool
}

// Spec says what to read and how to shape it.
type Spec struct {
	Path   string
	Format Format // FormatAuto: by extension

	// Inputs are the model's inputs. When empty, every data field (except
	// the label) becomes an input of its own type and shape.
	Inputs []InputInfo

	// Columns selects the feature columns/fields/arrays (in this order) that
	// feed a single-input model. Empty: the field named like the input, or
	// every field except the label.
	Columns []string
	// InputFields maps input name to the data field that feeds it, for
	// multi-input models whose arrays are not named like the inputs.
	InputFields map[string]string

	// LabelsPath is a separate labels file (.npy, .npz, CSV, JSONL, Parquet).
	// Empty: labels come from LabelColumn of the data file, if set.
	LabelsPath string
	// LabelColumn names the label column, field or array.
	LabelColumn string

	NoHeader   bool // CSV without a header row: columns are named "0", "1", ...
	BatchSize  int  // rows per batch; 0 means 32
	Limit      int  // stop after this many rows; 0 means all
	AllowNaN   bool // pass NaN inputs through instead of failing
	Preprocess Preprocess
}

// Batch is a group of consecutive rows.
type Batch struct {
	Offset int                // index of the first row in the dataset
	Rows   int                // number of rows
	Inputs map[string]*Tensor // by input name, shape [Rows, ...]
	Labels *Tensor            // nil without labels; Int64 for integer labels, else Float64
	// Origin is the data-file row of each row when the rows are not
	// consecutive (a shuffled batch from Dataset.Batch); nil means row i is
	// file row Offset+i. Use Row for messages.
	Origin []int
}

// Row is the data-file row number of row i of the batch.
func (b *Batch) Row(i int) int {
	if b.Origin != nil {
		return b.Origin[i]
	}
	return b.Offset + i
}

// Source yields batches until io.EOF.
type Source interface {
	// Next returns the next batch, or io.EOF after the last one.
	Next(ctx context.Context) (*Batch, error)
	// Rows is the total number of rows when known up front (.npy/.npz), else -1.
	Rows() int64
	// Inputs are the resolved inputs with per-row dimensions filled in.
	Inputs() []InputInfo
	// HasLabels reports whether batches carry labels.
	HasLabels() bool
	Close() error
}

// field is one named array a reader can produce.
type field struct {
	Name     string
	DType    DType
	RowShape []int64 // shape of one row (nil for a scalar per row)
	table    bool    // from a row-oriented file: always reshaped
}

// reader is one open file.
type reader interface {
	fields() []field
	rows() int64              // -1 when unknown
	use(names []string) error // which fields read returns
	read(ctx context.Context, n int) (map[string]*Tensor, int, error)
	close() error
}
