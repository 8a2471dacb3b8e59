package eval

import (
	"math"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Model is one model to evaluate.
type Model struct {
	// Path is the .onnx file; it names the model in the report and gives
	// its size. With Session it may be empty.
	Path string
	// Session, when set, is used instead of opening Path (for example a
	// session a tuner keeps open between trials). Run never closes it.
	Session *runtime.Session
}

// Request is one evaluation.
type Request struct {
	Model Model
	// Baseline, when set, is run on the same rows and compared with Model
	// (Report.Compare); gates with a reference read its metrics.
	Baseline *Model

	// Data is streamed from files; its Inputs are filled in from the model
	// and BatchSize (0 means 32) is the batch of the evaluation pass. Path
	// names the data in the report, also when Dataset is set.
	Data data.Spec
	// Dataset, when set, is used instead of reading Data: rows already in
	// memory, such as a validation split.
	Dataset *data.Dataset

	Task       Task   // "" means Classification
	OutputName string // model output to score; "" means the first
	Metrics    Options

	// LatencyBatchSizes are timed after the evaluation pass, on the first
	// rows of the data (Report.Operational.Latency); nil skips it. The
	// evaluation's own batches are always timed.
	LatencyBatchSizes []int
	LatencyRuns       int // timed runs per latency batch size; 0 means 50

	Bootstrap int    // resamples for the comparison's intervals; 0 means 1000
	Seed      uint64 // bootstrap seed (same seed, same intervals)

	// Gates are checked against the report. A gate's reference (whatever
	// its name: "baseline", "champion") is Baseline's value of the metric.
	Gates []gate.Expr

	// Session configures the sessions Run opens.
	Session runtime.SessionOptions

	// Progress, when set, is told about every batch of the evaluation pass
	// of the model and of the baseline.
	Progress infer.Progress
}

func (r Request) withDefaults() Request {
	if r.Task == "" {
		r.Task = Classification
	}
	if r.Data.BatchSize == 0 {
		r.Data.BatchSize = 32
	}
	if r.LatencyRuns == 0 {
		r.LatencyRuns = 50
	}
	if r.Bootstrap == 0 {
		r.Bootstrap = 1000
	}
	return r
}

// Metric is a metric of the report by name (NaN when undefined or absent).
func (r *Report) Metric(name string) float64 {
	v, ok := r.Metrics[name]
	if !ok {
		return math.NaN()
	}
	return float64(v)
}
