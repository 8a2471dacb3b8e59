package cmdutil

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mlops-dev/mlops/internal/data"
)

// DefaultBatchSize is --batch-size's default in every command that reads
// data for a model.
const DefaultBatchSize = 32

// DataFlags are the flags that say where a command's labelled data is and
// how to shape it for the model, with the same names, defaults and meaning
// in eval, quantize, prune and retrain (docs/data.md lists them):
//
//	--data --labels --label-column --columns --input-field --no-header
//	--allow-nan --scale --mean --std --channels-last --reshape --batch-size
//	--limit, and with Validation --val-data --val-labels
//
// A command embeds DataFlags in its options, calls AddFlags, and builds
// data.Specs with Spec (the --data set) or SpecFor (another file shaped the
// same way, e.g. --val-data or --calibration-data).
type DataFlags struct {
	Data, Labels, LabelColumn string
	ValData, ValLabels        string // with DataFlagsConfig.Validation
	Columns                   []string
	InputFields               map[string]string
	NoHeader, AllowNaN        bool
	Scale                     float64
	Mean, Std                 []float64
	ChannelsLast, Reshape     bool
	BatchSize, Limit          int
}

// DataFlagsConfig says what the data is for in one command.
type DataFlagsConfig struct {
	Data   string // what --data is, e.g. "evaluation data"; formats are appended
	Labels string // what --labels is; "" means "labels for --data"
	Limit  string // what --limit limits; "" means "read only the first N rows of --data (0: all)"
	// Validation adds --val-data and --val-labels.
	Validation bool
	// NoBatchSize leaves --batch-size to the command (retrain's is rows per
	// optimizer step, a hyperparameter).
	NoBatchSize bool
	// Aliases maps an older flag name to its name here ("eval-data":
	// "data"); the old name keeps working and the usage mentions it.
	Aliases map[string]string
}

const dataFormats = ".npy, .npz, .csv, .jsonl or .parquet"

// AddFlags registers the data flags on fs.
func (d *DataFlags) AddFlags(fs *pflag.FlagSet, c DataFlagsConfig) {
	also := func(name, usage string) string {
		var old []string
		for from, to := range c.Aliases {
			if to == name {
				old = append(old, "--"+from)
			}
		}
		if len(old) == 0 {
			return usage
		}
		slices.Sort(old)
		return usage + " (also " + strings.Join(old, ", ") + ")"
	}
	labels := c.Labels
	if labels == "" {
		labels = "labels for --data"
	}
	limit := c.Limit
	if limit == "" {
		limit = "read only the first N rows of --data (0: all)"
	}
	fs.StringVar(&d.Data, "data", "", also("data", c.Data+": "+dataFormats))
	fs.StringVar(&d.Labels, "labels", "", also("labels", labels+": .npy, or CSV/JSONL/Parquet (one column, or choose it with --label-column)"))
	fs.StringVar(&d.LabelColumn, "label-column", "", "label column/field/array, in --labels or in --data")
	if c.Validation {
		fs.StringVar(&d.ValData, "val-data", "", "validation data (formats and shaping as --data)")
		fs.StringVar(&d.ValLabels, "val-labels", "", "labels for --val-data")
	}
	fs.StringSliceVar(&d.Columns, "columns", nil, "feature columns/fields feeding a single-input model, in order (default: all but the label)")
	fs.StringToStringVar(&d.InputFields, "input-field", nil, "map a model input to a data field: INPUT=FIELD (repeatable)")
	fs.BoolVar(&d.NoHeader, "no-header", false, "CSV files have no header row (columns are named 0, 1, ...)")
	fs.BoolVar(&d.AllowNaN, "allow-nan", false, "feed NaN inputs to the model instead of failing")
	fs.Float64Var(&d.Scale, "scale", 1, "multiply every input value by this (e.g. 1/255 for 8-bit images)")
	fs.Float64SliceVar(&d.Mean, "mean", nil, "subtract after scaling: one value or one per channel")
	fs.Float64SliceVar(&d.Std, "std", nil, "divide after subtracting the mean: one value or one per channel")
	fs.BoolVar(&d.ChannelsLast, "channels-last", false, "per-channel --mean/--std apply to the last axis (NHWC) instead of axis 1")
	fs.BoolVar(&d.Reshape, "reshape", false, "reshape array rows to the model input when the element count matches")
	if !c.NoBatchSize {
		fs.IntVar(&d.BatchSize, "batch-size", DefaultBatchSize, "rows per model run")
	}
	fs.IntVar(&d.Limit, "limit", 0, limit)
	CompleteFiles(fs, "data", DataExts...)
	CompleteFiles(fs, "labels", LabelsExts...)
	if c.Validation {
		CompleteFiles(fs, "val-data", DataExts...)
		CompleteFiles(fs, "val-labels", LabelsExts...)
	}
	AddFlagAliases(fs, c.Aliases)
}

// AddFlagAliases makes each old flag name (a key of aliases) mean the flag
// named by its value, on top of any normalisation fs already has.
func AddFlagAliases(fs *pflag.FlagSet, aliases map[string]string) {
	if len(aliases) == 0 {
		return
	}
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := aliases[name]; ok {
			name = to
		}
		return prev(f, name)
	})
}

// Spec is the --data set (labels from --labels or --label-column).
func (d *DataFlags) Spec() data.Spec {
	s := d.SpecFor(d.Data, d.Labels)
	s.Limit = d.Limit
	return s
}

// SpecFor is another file shaped like --data: the same columns, input
// fields, preprocessing and batch size, without --limit.
func (d *DataFlags) SpecFor(path, labels string) data.Spec {
	return data.Spec{
		Path: path, LabelsPath: labels, LabelColumn: d.LabelColumn, Columns: d.Columns,
		InputFields: d.InputFields, NoHeader: d.NoHeader, BatchSize: d.BatchSize, AllowNaN: d.AllowNaN,
		Preprocess: data.Preprocess{Scale: d.Scale, Mean: d.Mean, Std: d.Std, ChannelsLast: d.ChannelsLast, Reshape: d.Reshape},
	}
}

// HasLabels reports whether --data comes with labels.
func (d *DataFlags) HasLabels() bool { return d.Labels != "" || d.LabelColumn != "" }

// Validate checks the values that need no file; errors are usage errors.
// batchSized is false when the command owns --batch-size.
func (d *DataFlags) Validate(batchSized bool) error {
	if batchSized && d.BatchSize <= 0 {
		return FlagErrorf("--batch-size must be positive, got %d", d.BatchSize)
	}
	if d.Limit < 0 {
		return FlagErrorf("--limit must not be negative, got %d", d.Limit)
	}
	if d.Labels != "" && d.Data == "" {
		return FlagErrorf("--labels needs --data: the rows the labels belong to")
	}
	if d.ValLabels != "" && d.ValData == "" {
		return FlagErrorf("--val-labels needs --val-data: the rows the labels belong to")
	}
	if d.Scale == 0 { // the data layer reads Scale 0 as "unset"
		return FlagErrorf("--scale 0 would turn every input into 0; give the factor to multiply by, e.g. 0.00392156862745098 for 1/255")
	}
	return nil
}

// RequireLabelled checks that --data and its labels are given, for
// commands that cannot work without them (eval).
func (d *DataFlags) RequireLabelled() error {
	if d.Data == "" {
		return FlagErrorf("--data is required: the evaluation inputs (%s)", dataFormats)
	}
	if !d.HasLabels() {
		return FlagErrorf("labels are required: pass --labels FILE or --label-column NAME")
	}
	return nil
}
