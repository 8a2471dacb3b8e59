package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/metrics"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Run evaluates req.Model (and req.Baseline) on the request's data and
// checks its gates. rt opens the models given by path; it may be nil when
// every model comes with a Session. A gate naming a metric the report does
// not have is a *gate.UnknownMetricError; failed gates are not an error
// (see Report.Gates and Report.FailedGates).
func Run(ctx context.Context, rt *runtime.Runtime, req Request) (*Report, error) {
	req = req.withDefaults()
	if _, ok := ParseTask(string(req.Task)); !ok {
		return nil, fmt.Errorf("unknown task %q (want classification, binary, multilabel or regression)", req.Task)
	}
	if req.Data.Path == "" && req.Dataset == nil {
		return nil, errors.New("no evaluation data: give a data file or a dataset")
	}
	for _, g := range req.Gates {
		if g.Ref != "" && req.Baseline == nil {
			return nil, fmt.Errorf("gate %q compares with %s, but there is no baseline model to read it from", g.Text, g.Ref)
		}
	}
	report, run, err := evaluate(ctx, rt, req, req.Model, true)
	if err != nil {
		return nil, err
	}
	defer run.close()
	if req.Baseline != nil {
		baseReport, br, err := evaluate(ctx, rt, req, *req.Baseline, false)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		defer br.close()
		cmp, err := Compare(ctx, run.preds, br.preds, baseReport, req.Baseline.Path, req.Bootstrap, req.Seed, req.Metrics)
		if err != nil {
			return nil, err
		}
		report.Compare = cmp
	}
	if err := CheckGates(req.Gates, report, req.Baseline != nil); err != nil {
		return nil, err
	}
	var base Metrics
	if report.Compare != nil {
		base = report.Compare.Metrics
	}
	ApplyGates(req.Gates, report, base)
	return report, nil
}

// modelRun is one model's pass over the data.
type modelRun struct {
	preds     *Predictions
	latencies []float64 // ms per batch of the evaluation pass
	runSecs   float64   // time inside Session.Run
	output    string
	notes     []string
	session   *runtime.Session
	owned     bool // Run opened the session and closes it
	inputs    []data.InputInfo
}

func (run *modelRun) close() {
	if run.owned {
		run.session.Close()
	}
}

// evaluate runs one model and computes its report; latency is measured for
// the main model only.
func evaluate(ctx context.Context, rt *runtime.Runtime, req Request, m Model, timed bool) (*Report, *modelRun, error) {
	run, err := runModel(ctx, rt, m, req)
	if err != nil {
		return nil, nil, err
	}
	r, err := Compute(ctx, run.preds, req.Metrics)
	if err != nil {
		run.close()
		return nil, nil, fmt.Errorf("%s: %w", blame(err, m, req), err)
	}
	r.Model, r.Data = m.Path, req.Data.Path
	r.Notes = append(r.Notes, run.notes...)
	r.ModelSizeBytes = fileSize(m.Path)
	if run.runSecs > 0 {
		r.EvalThroughputRPS = Num(float64(r.Rows) / run.runSecs)
	}
	if timed {
		r.Latency = append(r.Latency, summarise(req.Data.BatchSize, run.latencies))
		r.Latency[0].Runs = len(run.latencies)
		for _, bs := range req.LatencyBatchSizes {
			st, err := run.latency(ctx, req, bs, req.LatencyRuns)
			if err != nil {
				run.close()
				return nil, nil, fmt.Errorf("latency: %w", err)
			}
			r.Latency = append(r.Latency, st)
		}
		// The first requested batch size is what latency gates read.
		if len(r.Latency) > 1 {
			r.Latency = append(r.Latency[1:], r.Latency[0])
		}
		latencyMetrics(r)
	}
	return r, run, nil
}

// latencyMetrics adds the gateable operational figures to the metrics.
func latencyMetrics(r *Report) {
	r.Metrics["model_size_mb"] = Num(float64(r.ModelSizeBytes) / 1e6)
	r.Metrics["eval_throughput_rows_per_s"] = r.EvalThroughputRPS
	if len(r.Latency) > 0 {
		l := r.Latency[0]
		r.Metrics["p50_latency_ms"], r.Metrics["p90_latency_ms"], r.Metrics["p99_latency_ms"] = l.P50MS, l.P90MS, l.P99MS
		r.Metrics["throughput_rows_per_s"] = l.ThroughputRPS
	}
	for _, l := range r.Latency {
		s := fmt.Sprintf("_b%d", l.BatchSize)
		r.Metrics["p50_latency_ms"+s], r.Metrics["p90_latency_ms"+s], r.Metrics["p99_latency_ms"+s] = l.P50MS, l.P90MS, l.P99MS
	}
}

// runModel streams the data through one model and collects its outputs
// and labels. The session stays open for the latency benchmark.
func runModel(ctx context.Context, rt *runtime.Runtime, m Model, req Request) (*modelRun, error) {
	run := &modelRun{session: m.Session}
	if run.session == nil {
		if rt == nil {
			return nil, fmt.Errorf("evaluating %s needs ONNX Runtime (or an open session)", m.Path)
		}
		sess, err := rt.NewSession(m.Path, req.Session)
		if err != nil {
			return nil, err // the runtime's errors name the file
		}
		run.session, run.owned = sess, true
	}
	if err := run.collect(ctx, m.Path, req); err != nil {
		run.close()
		var le *LabelError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%s: %w", blame(err, m, req), err)
		}
		return nil, err
	}
	return run, nil
}

// blame names what an error is about: the labels for a *LabelError, else
// the model.
func blame(err error, m Model, req Request) string {
	var le *LabelError
	if !errors.As(err, &le) {
		return m.Path
	}
	switch {
	case req.Data.LabelsPath != "":
		return "labels " + req.Data.LabelsPath
	case req.Data.Path != "":
		return "labels in " + req.Data.Path
	}
	return "labels"
}

// open is the data source for the session: the dataset in memory, or the
// files shaped for the session's inputs.
func (run *modelRun) open(ctx context.Context, req Request, batchSize, limit int) (data.Source, error) {
	if ds := req.Dataset; ds != nil {
		if err := datasetFits(ds, run.inputs); err != nil {
			return nil, err
		}
		if limit > 0 && limit < ds.Rows {
			idx := make([]int, limit)
			for i := range idx {
				idx[i] = i
			}
			ds = ds.Subset(idx)
		}
		return ds.Source(batchSize), nil
	}
	spec := req.Data
	spec.Inputs, spec.BatchSize = run.inputs, batchSize
	if limit > 0 {
		spec.Limit = limit
	}
	return data.Open(ctx, spec)
}

// datasetFits checks that the dataset has a column of the right type for
// every model input.
func datasetFits(ds *data.Dataset, inputs []data.InputInfo) error {
	for _, in := range inputs {
		i := slices.IndexFunc(ds.Columns, func(c data.Column) bool { return c.Name == in.Name })
		if i < 0 {
			return fmt.Errorf("the dataset has no column for model input %q", in.Name)
		}
		if c := ds.Columns[i]; c.DType != in.DType {
			return fmt.Errorf("model input %q takes %s, the dataset holds %s", in.Name, in.DType, c.DType)
		}
	}
	return nil
}

func (run *modelRun) collect(ctx context.Context, path string, req Request) error {
	ins, err := infer.Inputs(run.session.Inputs())
	if err != nil {
		return err
	}
	run.inputs = ins
	outs := run.session.Outputs()
	run.output = req.OutputName
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
	src, err := run.open(ctx, req, req.Data.BatchSize, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	if !src.HasLabels() {
		return fmt.Errorf("no labels: pass --labels FILE (a .npy, or a CSV/JSONL/Parquet with --label-column) or --label-column NAME for labels inside --data")
	}
	c := NewCollector(req.Task, run.output)
	err = infer.Each(ctx, src, func(b *data.Batch, feed map[string]*runtime.Tensor) error {
		req.Progress.Batch("evaluate "+filepath.Base(path), src, b)
		t0 := time.Now()
		res, err := run.session.Run(ctx, feed, []string{run.output})
		d := time.Since(t0)
		if err != nil {
			return fmt.Errorf("run %s on rows %d..%d: %w", path, b.Offset, b.Offset+b.Rows-1, err)
		}
		run.latencies = append(run.latencies, float64(d.Microseconds())/1000)
		run.runSecs += d.Seconds()
		return c.Add(b, res[run.output])
	})
	if err != nil {
		return err
	}
	if c.width < 0 {
		return fmt.Errorf("%s contains no rows", req.Data.Path)
	}
	run.preds, run.notes, err = c.Predictions()
	return err
}

// latency times Session.Run on the first bs rows, after warm-up runs.
func (run *modelRun) latency(ctx context.Context, req Request, bs, runs int) (LatencyStats, error) {
	st := LatencyStats{BatchSize: bs}
	src, err := run.open(ctx, req, bs, bs)
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
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if _, err := run.session.Run(ctx, ins, []string{run.output}); err != nil {
			return st, err
		}
		samples = append(samples, float64(time.Since(t0).Microseconds())/1000)
	}
	return summarise(bs, samples), nil
}

func summarise(bs int, samples []float64) LatencyStats {
	st := LatencyStats{BatchSize: bs, Runs: len(samples), Samples: samples}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var total float64
	for _, v := range sorted {
		total += v
	}
	st.P50MS = Num(metrics.Percentile(sorted, 50))
	st.P90MS = Num(metrics.Percentile(sorted, 90))
	st.P99MS = Num(metrics.Percentile(sorted, 99))
	st.MeanMS = Num(total / float64(len(sorted)))
	st.ThroughputRPS = Num(float64(bs*len(sorted)) / (total / 1000))
	return st
}

func fileSize(path string) int64 {
	if path == "" {
		return 0
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
