package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/metrics"
	"github.com/mlops-dev/mlops/internal/monitor/evalreport"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// modelRun is one model's pass over the data.
type modelRun struct {
	preds     *evalreport.Predictions
	latencies []float64 // ms per batch at --batch-size
	runSecs   float64   // time inside Session.Run
	output    string
	notes     []string
	session   *runtime.Session
	inputs    []data.InputInfo
}

// runModel streams the data through one model and collects its outputs
// and labels. The session stays open for the latency benchmark.
func runModel(ctx context.Context, rt *runtime.Runtime, path string, o *EvalOptions, task evalreport.Task) (*modelRun, error) {
	sess, err := rt.NewSession(path, runtime.SessionOptions{IntraOpThreads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	run := &modelRun{session: sess}
	if err := run.collect(ctx, path, o, task); err != nil {
		sess.Close()
		return nil, err
	}
	return run, nil
}

func (run *modelRun) collect(ctx context.Context, path string, o *EvalOptions, task evalreport.Task) error {
	ins, err := infer.Inputs(run.session.Inputs())
	if err != nil {
		return err
	}
	run.inputs = ins
	outs := run.session.Outputs()
	run.output = o.OutputName
	if run.output == "" {
		if len(outs) == 0 {
			return fmt.Errorf("%s has no outputs", path)
		}
		run.output = outs[0].Name
	} else if !slices.ContainsFunc(outs, func(t runtime.TensorInfo) bool { return t.Name == run.output }) {
		var names []string
		for _, t := range outs {
			names = append(names, t.Name)
		}
		return fmt.Errorf("--output-name %q: the model's outputs are %v", run.output, names)
	}
	src, err := data.Open(ctx, o.spec(ins))
	if err != nil {
		return err
	}
	defer src.Close()
	if !src.HasLabels() {
		return fmt.Errorf("no labels: pass --labels FILE (a .npy, or a CSV/JSONL/Parquet with --label-column) or --label-column NAME for labels inside --data")
	}
	p := &evalreport.Predictions{Task: task}
	var raw []float64
	width := -1
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		feed, err := infer.Feed(b)
		if err != nil {
			return err
		}
		t0 := time.Now()
		res, err := run.session.Run(ctx, feed, []string{run.output})
		d := time.Since(t0)
		if err != nil {
			return fmt.Errorf("run %s on rows %d..%d: %w", path, b.Offset, b.Offset+b.Rows-1, err)
		}
		run.latencies = append(run.latencies, float64(d.Microseconds())/1000)
		run.runSecs += d.Seconds()
		out := res[run.output]
		vals, err := out.AsFloat32s()
		if err != nil {
			return fmt.Errorf("output %q: %w", run.output, err)
		}
		if len(out.Shape) == 0 || out.Shape[0] != int64(b.Rows) {
			return fmt.Errorf("output %q has shape %v for a batch of %d rows; eval needs the batch as the first dimension", run.output, out.Shape, b.Rows)
		}
		w := len(vals) / b.Rows
		if width >= 0 && w != width {
			return fmt.Errorf("output %q changed width from %d to %d values per row", run.output, width, w)
		}
		width = w
		for _, v := range vals {
			raw = append(raw, float64(v))
		}
		if err := addLabels(p, b, task); err != nil {
			return err
		}
	}
	if width < 0 {
		return fmt.Errorf("%s contains no rows", o.Data)
	}
	return run.finish(p, raw, width)
}

func addLabels(p *evalreport.Predictions, b *data.Batch, task evalreport.Task) error {
	l := b.Labels
	switch task {
	case evalreport.Classification, evalreport.Binary:
		if l.Len() != b.Rows {
			return fmt.Errorf("labels have %d values per row; %s needs one class id per row", l.Len()/max(b.Rows, 1), task)
		}
		for i, v := range l.Float64s() {
			if v != math.Trunc(v) || math.IsNaN(v) {
				return fmt.Errorf("label %v at row %d is not an integer class id; use --task regression for continuous targets", v, b.Offset+i)
			}
			p.Labels = append(p.Labels, int(v))
		}
	default:
		p.Targets = append(p.Targets, l.Float64s()...)
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

// finish turns raw outputs into the scores evalreport expects.
func (run *modelRun) finish(p *evalreport.Predictions, raw []float64, width int) error {
	switch p.Task {
	case evalreport.Classification:
		if width < 2 {
			return fmt.Errorf("output %q has %d value per row; a classifier needs one score per class (use --task binary or regression)", run.output, width)
		}
		p.K = width
		if !metrics.LooksLikeProbabilities(raw, width) {
			raw = metrics.Softmax(raw, width)
			run.notes = append(run.notes, fmt.Sprintf("output %q does not sum to 1 per row: applied softmax (treated as logits)", run.output))
		}
		p.Scores = raw
	case evalreport.Binary:
		p.K = 1
		switch width {
		case 1:
			if !inUnit(raw) {
				for i, v := range raw {
					raw[i] = sigmoid(v)
				}
				run.notes = append(run.notes, fmt.Sprintf("output %q is outside [0,1]: applied the sigmoid", run.output))
			}
			p.Scores = raw
		case 2:
			if !metrics.LooksLikeProbabilities(raw, 2) {
				raw = metrics.Softmax(raw, 2)
				run.notes = append(run.notes, fmt.Sprintf("output %q does not sum to 1 per row: applied softmax", run.output))
			}
			p.Scores = make([]float64, len(raw)/2)
			for i := range p.Scores {
				p.Scores[i] = raw[2*i+1]
			}
		default:
			return fmt.Errorf("output %q has %d values per row; --task binary needs 1 (P(positive)) or 2", run.output, width)
		}
	case evalreport.Multilabel:
		p.K = width
		if !inUnit(raw) {
			for i, v := range raw {
				raw[i] = sigmoid(v)
			}
			run.notes = append(run.notes, fmt.Sprintf("output %q is outside [0,1]: applied the sigmoid per label", run.output))
		}
		p.Scores = raw
	case evalreport.Regression:
		if width != 1 {
			return fmt.Errorf("output %q has %d values per row; --task regression needs one", run.output, width)
		}
		p.K = 1
		p.Scores = raw
	}
	run.preds = p
	return nil
}

// latency times Session.Run on the first bs rows, after warm-up runs.
func (run *modelRun) latency(ctx context.Context, o *EvalOptions, bs, runs int) (evalreport.LatencyStats, error) {
	spec := o.spec(run.inputs)
	spec.BatchSize, spec.Limit = bs, bs
	st := evalreport.LatencyStats{BatchSize: bs}
	src, err := data.Open(ctx, spec)
	if err != nil {
		return st, err
	}
	b, err := src.Next(ctx)
	src.Close()
	if err != nil {
		return st, err
	}
	if b.Rows < bs {
		return st, fmt.Errorf("latency at batch size %d needs %d rows, the data has %d", bs, bs, b.Rows)
	}
	ins, err := infer.Feed(b)
	if err != nil {
		return st, err
	}
	for i := 0; i < 3; i++ {
		if _, err := run.session.Run(ctx, ins, []string{run.output}); err != nil {
			return st, err
		}
	}
	samples := make([]float64, 0, runs)
	var total float64
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if _, err := run.session.Run(ctx, ins, []string{run.output}); err != nil {
			return st, err
		}
		ms := float64(time.Since(t0).Microseconds()) / 1000
		samples = append(samples, ms)
		total += ms
	}
	return summarise(bs, samples), nil
}

func summarise(bs int, samples []float64) evalreport.LatencyStats {
	st := evalreport.LatencyStats{BatchSize: bs, Runs: len(samples), Samples: samples}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var total float64
	for _, v := range sorted {
		total += v
	}
	st.P50MS = evalreport.Num(metrics.Percentile(sorted, 50))
	st.P90MS = evalreport.Num(metrics.Percentile(sorted, 90))
	st.P99MS = evalreport.Num(metrics.Percentile(sorted, 99))
	st.MeanMS = evalreport.Num(total / float64(len(sorted)))
	st.ThroughputRPS = evalreport.Num(float64(bs*len(sorted)) / (total / 1000))
	return st
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
