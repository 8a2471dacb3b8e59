package monitor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// MetricsOptions configures the Prometheus view of a report.
type MetricsOptions struct {
	// PerFeature adds one drift-score and one drifted series per feature. Leave it off for models with
	// hundreds of input elements (an image model has one feature per pixel).
	PerFeature bool
}

// Registry returns a fresh Prometheus registry holding the report as gauges. Names follow
// Prometheus practice (base units, few labels); every series carries the model label.
func (r *Report) Registry(opts MetricsOptions) (*prometheus.Registry, error) {
	return r.registry(opts, prometheus.Labels{"model": r.Model})
}

// registry builds the gauges with the given constant labels; a push leaves the model label to the
// Pushgateway grouping key instead.
func (r *Report) registry(opts MetricsOptions, model prometheus.Labels) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) error {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: model})
		g.Set(v)
		return reg.Register(g)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	plain := []struct {
		name, help string
		v          float64
	}{
		{"mlops_monitor_last_run_timestamp_seconds", "Unix time the monitoring run finished.", float64(r.GeneratedAt.UnixNano()) / 1e9},
		{"mlops_monitor_dataset_drift", "1 when the share of drifted features reached the drift-share threshold.", b2f(r.Drift.Drifted)},
		{"mlops_monitor_drift_share", "Share of features that drifted (0..1).", r.Drift.Share},
		{"mlops_monitor_drifted_features", "Number of features that drifted.", float64(r.Drift.DriftedColumns)},
		{"mlops_monitor_features", "Number of features compared.", float64(r.Drift.Columns)},
		{"mlops_monitor_current_rows", "Rows read from the current payload logs.", float64(r.Current.Rows)},
		{"mlops_monitor_reference_rows", "Rows read from the reference.", float64(r.Reference.Rows)},
		{"mlops_monitor_payload_lines", "Payload-log lines read.", float64(r.Current.Logs.Lines)},
		{"mlops_monitor_payload_skipped_lines", "Payload-log lines skipped as malformed.", float64(r.Current.Logs.Skipped)},
	}
	if r.PredictionDrift != nil {
		plain = append(plain,
			struct {
				name, help string
				v          float64
			}{"mlops_monitor_prediction_drift_score", "Drift score of the predicted class (p-value for tests, distance otherwise).", r.PredictionDrift.Score},
			struct {
				name, help string
				v          float64
			}{"mlops_monitor_prediction_drift", "1 when the predicted-class distribution drifted.", b2f(r.PredictionDrift.Drifted)})
	}
	if q := r.Quality; q != nil {
		plain = append(plain, struct {
			name, help string
			v          float64
		}{"mlops_monitor_labelled_rows", "Rows joined with a delayed label.", float64(q.LabelledRows)})
		if q.LabelledRows > 0 {
			for _, m := range []struct {
				name string
				v    float64
			}{{"accuracy", q.Overall.Accuracy}, {"precision_macro", q.Overall.PrecisionMacro}, {"recall_macro", q.Overall.RecallMacro}, {"f1_macro", q.Overall.F1Macro}} {
				plain = append(plain, struct {
					name, help string
					v          float64
				}{"mlops_monitor_" + m.name + "_ratio", "Live " + m.name + " over labelled rows (0..1).", m.v})
			}
		}
	}
	for _, p := range plain {
		if err := gauge(p.name, p.help, p.v); err != nil {
			return nil, err
		}
	}
	if len(r.Gates) > 0 {
		gv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlops_monitor_gate_passed", Help: "1 when the gate held.", ConstLabels: model}, []string{"gate"})
		for _, g := range r.Gates {
			gv.WithLabelValues(g.Gate).Set(b2f(g.Passed))
		}
		if err := reg.Register(gv); err != nil {
			return nil, err
		}
	}
	if opts.PerFeature {
		score := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlops_monitor_feature_drift_score", Help: "Drift score per feature (p-value for tests, distance otherwise).", ConstLabels: model}, []string{"feature", "method"})
		drifted := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlops_monitor_feature_drift", Help: "1 when the feature drifted.", ConstLabels: model}, []string{"feature"})
		psi := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlops_monitor_feature_psi", Help: "Population stability index per feature.", ConstLabels: model}, []string{"feature"})
		for _, f := range r.Drift.Features {
			score.WithLabelValues(f.Name, string(f.Method)).Set(f.Score)
			drifted.WithLabelValues(f.Name).Set(b2f(f.Drifted))
			psi.WithLabelValues(f.Name).Set(f.PSI)
		}
		for _, c := range []prometheus.Collector{score, drifted, psi} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return reg, nil
}

// WriteTextfile writes the metrics for node_exporter's textfile collector. The file is written to a
// temporary name and renamed, so the collector never reads half a file; an existing regular file is
// replaced (the collector expects that), anything else at path is refused.
func (r *Report) WriteTextfile(path string, opts MetricsOptions) error {
	var buf bytes.Buffer
	if err := r.WriteMetrics(&buf, opts); err != nil {
		return err
	}
	if err := safefile.WriteFile(context.Background(), path, buf.Bytes(), true); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	return nil
}

// WriteMetrics writes the metrics in the Prometheus text format, as WriteTextfile puts them in a file.
func (r *Report) WriteMetrics(w io.Writer, opts MetricsOptions) error {
	reg, err := r.Registry(opts)
	if err != nil {
		return err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

// Push sends the metrics to a Prometheus Pushgateway at url, replacing the group job="mlops_monitor",
// model=<model>.
func (r *Report) Push(ctx context.Context, url string, client *http.Client, opts MetricsOptions) error {
	reg, err := r.registry(opts, nil)
	if err != nil {
		return err
	}
	p := push.New(url, "mlops_monitor").Gatherer(reg)
	if r.Model != "" {
		p = p.Grouping("model", r.Model)
	}
	if client != nil {
		p = p.Client(client)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", url, err)
	}
	return nil
}
