package eval

import (
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/metrics"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Collector gathers one model's outputs and the labels batch by batch and
// turns them into the Predictions Compute scores. Run uses one per model; a
// caller that runs the model itself (quantize compares a float and a
// quantized model in one pass) uses its own, so labels are checked the
// same way everywhere: integer class ids for classification and binary,
// one per row (their range is checked by Compute).
type Collector struct {
	task   Task
	output string // the scored output, for messages
	p      Predictions
	raw    []float64
	width  int
}

// NewCollector scores output (a name, for messages) for task.
func NewCollector(task Task, output string) *Collector {
	return &Collector{task: task, output: output, p: Predictions{Task: task}, width: -1}
}

// Rows is the number of rows added so far.
func (c *Collector) Rows() int {
	if c.width <= 0 {
		return 0
	}
	return len(c.raw) / c.width
}

// Add records the model's output for batch b and the batch's labels.
func (c *Collector) Add(b *data.Batch, out *runtime.Tensor) error {
	if out == nil {
		return fmt.Errorf("the model gave no output %q", c.output)
	}
	vals, err := out.AsFloat32s()
	if err != nil {
		return fmt.Errorf("output %q: %w", c.output, err)
	}
	return c.AddScores(b, out.Shape, vals)
}

// AddScores is Add for outputs already read as float32 (shape is the
// output's shape, batch first).
func (c *Collector) AddScores(b *data.Batch, shape []int64, vals []float32) error {
	if len(shape) == 0 || shape[0] != int64(b.Rows) {
		return fmt.Errorf("output %q has shape %v for a batch of %d rows; eval needs the batch as the first dimension", c.output, shape, b.Rows)
	}
	if b.Labels == nil {
		return fmt.Errorf("no labels for rows %d..%d: give a labels file or a label column", b.Row(0), b.Row(b.Rows-1))
	}
	w := len(vals) / max(b.Rows, 1)
	if c.width >= 0 && w != c.width {
		return fmt.Errorf("output %q changed width from %d to %d values per row", c.output, c.width, w)
	}
	c.width = w
	for _, v := range vals {
		c.raw = append(c.raw, float64(v))
	}
	return c.addLabels(b)
}

func (c *Collector) addLabels(b *data.Batch) error {
	l := b.Labels
	switch c.task {
	case Classification, Binary:
		if l.Len() != b.Rows {
			return labelErrorf("labels have %d values per row; %s needs one class id per row", l.Len()/max(b.Rows, 1), c.task)
		}
		for i, v := range l.Float64s() {
			if v != math.Trunc(v) || math.IsNaN(v) {
				return labelErrorf("label %v at row %d is not an integer class id; use --task regression for continuous targets", v, b.Row(i))
			}
			c.p.Labels = append(c.p.Labels, int(v))
		}
	default:
		c.p.Targets = append(c.p.Targets, l.Float64s()...)
	}
	return nil
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func inUnit(v []float64) bool {
	for _, x := range v {
		if x < 0 || x > 1 {
			return false
		}
	}
	return true
}

// Predictions turns the raw outputs into the scores Compute expects
// (softmax or sigmoid applied to logits) and says in notes what it did.
func (c *Collector) Predictions() (*Predictions, []string, error) {
	if c.width < 0 {
		return nil, nil, fmt.Errorf("no rows to evaluate: the data is empty")
	}
	p, raw, width := c.p, c.raw, c.width
	var notes []string
	switch p.Task {
	case Classification:
		if width < 2 {
			return nil, nil, fmt.Errorf("output %q has %d value per row; a classifier needs one score per class (use --task binary or regression)", c.output, width)
		}
		p.K = width
		if !metrics.LooksLikeProbabilities(raw, width) {
			raw = metrics.Softmax(raw, width)
			notes = append(notes, fmt.Sprintf("output %q does not sum to 1 per row: applied softmax (treated as logits)", c.output))
		}
		p.Scores = raw
	case Binary:
		p.K = 1
		switch width {
		case 1:
			if !inUnit(raw) {
				for i, v := range raw {
					raw[i] = sigmoid(v)
				}
				notes = append(notes, fmt.Sprintf("output %q is outside [0,1]: applied the sigmoid", c.output))
			}
			p.Scores = raw
		case 2:
			if !metrics.LooksLikeProbabilities(raw, 2) {
				raw = metrics.Softmax(raw, 2)
				notes = append(notes, fmt.Sprintf("output %q does not sum to 1 per row: applied softmax", c.output))
			}
			p.Scores = make([]float64, len(raw)/2)
			for i := range p.Scores {
				p.Scores[i] = raw[2*i+1]
			}
		default:
			return nil, nil, fmt.Errorf("output %q has %d values per row; --task binary needs 1 (P(positive)) or 2", c.output, width)
		}
	case Multilabel:
		p.K = width
		if !inUnit(raw) {
			for i, v := range raw {
				raw[i] = sigmoid(v)
			}
			notes = append(notes, fmt.Sprintf("output %q is outside [0,1]: applied the sigmoid per label", c.output))
		}
		p.Scores = raw
	case Regression:
		if width != 1 {
			return nil, nil, fmt.Errorf("output %q has %d values per row; --task regression needs one", c.output, width)
		}
		p.K = 1
		p.Scores = raw
	default:
		return nil, nil, fmt.Errorf("unknown task %q (want classification, binary, multilabel or regression)", p.Task)
	}
	return &p, notes, nil
}
