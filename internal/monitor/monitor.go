package monitor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/gate"
)

// Request configures Run. The CLI fills it from flags.
type Request struct {
	Reference string // dataset file or payload logs (folder, .jsonl[.gz], blob URL)
	// ReferenceLogs forces how Reference is read: nil = detect (IsPayloadLog).
	ReferenceLogs *bool
	Current       string    // payload logs; ignored when CurrentLocation is set
	CurrentLoc    *Location // an already-open location (tests, callers holding a bucket)
	Labels        string    // delayed labels file; "" = no quality
	// ReferenceLabels holds the true classes of a dataset reference; the current predicted-class
	// distribution is compared with them (prediction drift against the reference target).
	ReferenceLabels string
	Window          time.Duration
	Model           string // keep only this model's records; "" = the only model in the logs
	Output          string // output tensor with predictions; "" = the first output
	Since, Until    time.Time
	ReferenceRows   int // read at most this many reference rows; 0 = all
	Drift           DriftOptions
	Gates           []gate.Expr
	Now             func() time.Time // clock for generated_at; nil = time.Now
}

// SourceInfo describes one side of the comparison.
type SourceInfo struct {
	Path string    `json:"path"`
	Kind string    `json:"kind"` // "payload_logs" or "dataset"
	Rows int       `json:"rows"`
	Logs *LogStats `json:"logs,omitempty"`
}

// Report is the outcome of a monitoring run. JSON field names are a contract.
type Report struct {
	GeneratedAt     time.Time     `json:"generated_at"`
	Model           string        `json:"model"`
	Reference       SourceInfo    `json:"reference"`
	Current         CurrentInfo   `json:"current"`
	Drift           DatasetDrift  `json:"drift"`
	PredictionDrift *FeatureDrift `json:"prediction_drift,omitempty"`
	Quality         *Quality      `json:"quality,omitempty"`
	Gates           []GateResult  `json:"gates"`
	Warnings        []string      `json:"warnings,omitempty"`

	ref, cur *Frame // kept for plots; not serialised
}

// CurrentInfo describes the payload logs read.
type CurrentInfo struct {
	Path string    `json:"path"`
	Rows int       `json:"rows"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Logs LogStats  `json:"logs"`
}

// Run reads the current payload logs and the reference, compares them, joins labels and evaluates
// gates. It returns an error only when the inputs cannot be used at all; malformed log lines are
// counted in the report.
func Run(ctx context.Context, o Request) (*Report, error) {
	if o.Window == 0 {
		o.Window = time.Hour
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r := &Report{GeneratedAt: now().UTC(), Gates: []GateResult{}}
	dict := NewDictionary()

	cur, stats, err := readLogsFrame(ctx, o.Current, o.CurrentLoc, dict, o)
	if err != nil {
		return nil, err
	}
	r.Current = CurrentInfo{Path: o.Current, Rows: cur.Rows(), Logs: stats}
	r.Current.From, r.Current.To = timeRange(cur.Times)
	r.Model, err = singleModel(cur, o.Model)
	if err != nil {
		return nil, err
	}
	if o.Model == "" {
		o.Model = r.Model
	}

	isLogs := false
	if o.ReferenceLogs != nil {
		isLogs = *o.ReferenceLogs
	} else if isLogs, err = IsPayloadLog(o.Reference); err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	var ref *Frame
	if isLogs && o.ReferenceLabels != "" {
		return nil, errors.New("--reference-labels goes with a dataset reference; payload logs as reference already carry predictions")
	}
	if isLogs {
		var refStats LogStats
		ref, refStats, err = readLogsFrame(ctx, o.Reference, nil, dict, Request{Model: o.Model, Output: o.Output})
		if err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		r.Reference = SourceInfo{Path: o.Reference, Kind: "payload_logs", Rows: ref.Rows(), Logs: &refStats}
		if err := sameSchema(ref.Inputs, cur.Inputs); err != nil {
			return nil, err
		}
	} else {
		ref, err = readReferenceData(ctx, o.Reference, o.ReferenceLabels, cur.Inputs, o.ReferenceRows, dict)
		if err != nil {
			return nil, err
		}
		r.Reference = SourceInfo{Path: o.Reference, Kind: "dataset", Rows: ref.Rows()}
	}
	attachLevels(ref, cur, dict)

	r.Drift, err = CompareColumns(ctx, ref.Columns, cur.Columns, o.Drift)
	if err != nil {
		return nil, err
	}
	if ref.Prediction != nil && cur.Prediction != nil {
		pd, err := CompareColumns(ctx, []Column{*ref.Prediction}, []Column{*cur.Prediction}, DriftOptions{Method: predictionMethod(o.Drift.Method), Threshold: o.Drift.Threshold})
		if err != nil {
			return nil, fmt.Errorf("prediction drift: %w", err)
		}
		r.PredictionDrift = &pd.Features[0]
	} else if ref.Prediction != nil {
		r.Warnings = append(r.Warnings, "no prediction drift: the current payload logs hold no outputs to take predictions from")
	}
	if o.Labels != "" {
		labels, err := ReadLabelsFile(ctx, o.Labels)
		if err != nil {
			return nil, err
		}
		q, err := JoinQuality(ctx, cur, labels, o.Window)
		if err != nil {
			return nil, err
		}
		r.Quality = &q
	}
	r.EvaluateGates(o.Gates)
	r.ref, r.cur = ref, cur
	return r, nil
}

// predictionMethod keeps a forced numeric-only method away from the categorical prediction column.
func predictionMethod(m Method) Method {
	if m == MethodKS || m == MethodWasserstein {
		return MethodAuto
	}
	return m
}

func readLogsFrame(ctx context.Context, path string, loc *Location, dict *Dictionary, o Request) (*Frame, LogStats, error) {
	var stats LogStats
	if loc == nil {
		l, err := OpenLocation(ctx, path)
		if err != nil {
			return nil, stats, err
		}
		defer l.Close()
		loc = &l
	}
	b := &recordBuilder{dict: dict, output: o.Output, model: o.Model, since: o.Since, until: o.Until}
	if err := ScanLogs(ctx, *loc, &stats, b.add); err != nil {
		return nil, stats, err
	}
	if b.frame == nil || b.frame.Rows() == 0 {
		msg := fmt.Sprintf("no usable payload-log records in %s (%d files, %d lines, %d skipped)", path, stats.Files, stats.Lines, stats.Skipped)
		if len(stats.Examples) > 0 {
			msg += "; first problem: " + stats.Examples[0]
		}
		if stats.Files == 0 {
			msg += "; expected files named *.jsonl or *.jsonl.gz"
		}
		return nil, stats, errors.New(msg)
	}
	stats.Rows = b.frame.Rows()
	return b.frame, stats, nil
}

func singleModel(f *Frame, want string) (string, error) {
	if want != "" {
		return want, nil
	}
	names := make([]string, 0, len(f.Models))
	for m := range f.Models {
		names = append(names, m)
	}
	sort.Strings(names)
	if len(names) > 1 {
		return "", fmt.Errorf("the payload logs hold several models (%s); choose one with --model", strings.Join(names, ", "))
	}
	return names[0], nil
}

func sameSchema(ref, cur []TensorSchema) error {
	if len(ref) != len(cur) {
		return fmt.Errorf("reference logs have %d inputs, current logs have %d", len(ref), len(cur))
	}
	for i := range ref {
		if ref[i].Name != cur[i].Name || ref[i].Width != cur[i].Width {
			return fmt.Errorf("reference input %q (%d values per row) does not match current input %q (%d values per row)",
				ref[i].Name, ref[i].Width, cur[i].Name, cur[i].Width)
		}
	}
	return nil
}

// attachLevels gives string columns their level names, so a method needing numbers can refuse them.
func attachLevels(ref, cur *Frame, dict *Dictionary) {
	for _, f := range []*Frame{ref, cur} {
		for i := range f.Columns {
			if f.Columns[i].Categorical {
				f.Columns[i].Levels = dict.Levels
			}
		}
		if f.Prediction != nil {
			f.Prediction.Levels = dict.Levels
		}
	}
}

func timeRange(ts []time.Time) (from, to time.Time) {
	for i, t := range ts {
		if i == 0 || t.Before(from) {
			from = t
		}
		if i == 0 || t.After(to) {
			to = t
		}
	}
	return from.UTC(), to.UTC()
}
