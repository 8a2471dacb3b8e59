package eval

import (
	"encoding/json"
	"math"
	"sort"

	"github.com/mlops-dev/mlops/internal/metrics"
)

// Task is what the model predicts.
type Task string

// Tasks.
const (
	Classification Task = "classification"
	Binary         Task = "binary"
	Multilabel     Task = "multilabel"
	Regression     Task = "regression"
)

// ParseTask validates a --task value.
func ParseTask(s string) (Task, bool) {
	switch t := Task(s); t {
	case Classification, Binary, Multilabel, Regression:
		return t, true
	}
	return "", false
}

// Num is a float64 that encodes NaN and ±Inf (undefined metrics) as null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// Metrics is the flat name → value map gates refer to. Names are a
// contract (snake_case, never renamed).
type Metrics map[string]Num

// Names lists the metric names, sorted.
func (m Metrics) Names() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Predictions are one model's outputs on the evaluation rows.
//
//   - Classification: Scores is N×K probabilities (softmax applied by the
//     caller when the model emits logits), Labels are class ids.
//   - Binary: Scores is P(positive) per row (K = 1), Labels are 0/1.
//   - Multilabel: Scores is N×K probabilities, Targets N×K 0/1.
//   - Regression: Scores is the prediction per row, Targets the truth.
type Predictions struct {
	Task    Task
	K       int
	Scores  []float64
	Labels  []int
	Targets []float64
}

// Rows is the number of evaluated rows.
func (p *Predictions) Rows() int {
	switch p.Task {
	case Classification, Multilabel:
		if p.K == 0 {
			return 0
		}
		return len(p.Scores) / p.K
	}
	return len(p.Scores)
}

// LatencyStats summarises the Run latency at one batch size.
type LatencyStats struct {
	BatchSize     int `json:"batch_size"`
	Runs          int `json:"runs"`
	P50MS         Num `json:"p50_ms"`
	P90MS         Num `json:"p90_ms"`
	P99MS         Num `json:"p99_ms"`
	MeanMS        Num `json:"mean_ms"`
	ThroughputRPS Num `json:"throughput_rows_per_s"`
	// Samples are the raw latencies (ms) for the histogram; not in JSON.
	Samples []float64 `json:"-"`
}

// Operational are the figures that are not about quality.
type Operational struct {
	ModelSizeBytes int64          `json:"model_size_bytes"`
	Latency        []LatencyStats `json:"latency"`
	// EvalThroughputRPS is rows per second over the whole evaluation run.
	EvalThroughputRPS Num `json:"eval_throughput_rows_per_s"`
}

// Report is everything `mlops eval --output json` prints.
type Report struct {
	Model       string     `json:"model"`
	Data        string     `json:"data"`
	Task        Task       `json:"task"`
	Rows        int        `json:"rows"`
	Classes     int        `json:"classes,omitempty"`
	Metrics     Metrics    `json:"metrics"`
	PerClass    []ClassRow `json:"per_class,omitempty"`
	Confusion   [][]int64  `json:"confusion_matrix,omitempty"`
	Operational `json:"operational"`
	Compare     *Comparison  `json:"compare,omitempty"`
	Gates       []GateResult `json:"gates,omitempty"`
	Notes       []string     `json:"notes,omitempty"`

	// Curves and calibration for the plots; not in JSON.
	preds       *Predictions
	calibration *metrics.Calibration
}

// ClassRow is one line of the per-class table.
type ClassRow struct {
	Class     int   `json:"class"`
	Precision Num   `json:"precision"`
	Recall    Num   `json:"recall"`
	F1        Num   `json:"f1"`
	Support   int64 `json:"support"`
	ROCAUC    Num   `json:"roc_auc"`
	PRAUC     Num   `json:"pr_auc"`
}

// GatesPassed reports whether every gate held.
func (r *Report) GatesPassed() bool {
	for _, g := range r.Gates {
		if !g.Passed {
			return false
		}
	}
	return true
}
