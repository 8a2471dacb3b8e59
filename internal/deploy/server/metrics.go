package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// Metrics are the Prometheus series of one server, on a registry of their
// own (never the global one). They implement engine.Observer.
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	queue       *prometheus.HistogramVec
	compute     *prometheus.HistogramVec
	batch       *prometheus.HistogramVec
	inflight    *prometheus.GaugeVec
	loads       *prometheus.CounterVec
	serving     *prometheus.GaugeVec
	predictions *prometheus.CounterVec
	// PayloadsDropped counts sampled payloads the payload log could not keep up with.
	PayloadsDropped prometheus.Counter

	mu sync.Mutex
	// served holds, per model, every version that has been primary or
	// canary: when one stops serving, its per-version series are dropped, so
	// that a server reloading new versions for months (--poll) keeps a
	// bounded set of series.
	served map[string]map[string]bool
}

const ns = "mlops_serve"

// latency buckets from 100µs to ~30s
var secondsBuckets = prometheus.ExponentialBucketsRange(0.0001, 30, 20)

// NewMetrics registers the server's series, process and Go collectors, and
// a collector reading queue lengths from eng.
func NewMetrics(eng func() *engine.Engine) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{served: map[string]map[string]bool{},
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Inference requests by model, version and outcome (success, invalid, rejected, timeout, cancelled, error)."}, []string{"model", "version", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "Time from reading an inference request to writing its response.", Buckets: secondsBuckets}, []string{"model", "version"}),
		queue: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "queue_duration_seconds",
			Help: "Time requests waited for a model instance.", Buckets: secondsBuckets}, []string{"model", "version"}),
		compute: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "compute_duration_seconds",
			Help: "Time of the model run (batch) that served requests.", Buckets: secondsBuckets}, []string{"model", "version"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "batch_size",
			Help: "Rows per model run after dynamic batching.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, []string{"model", "version"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_requests",
			Help: "Inference requests being handled."}, []string{"model"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_loads_total",
			Help: "Model load and reload attempts by outcome (success, failure)."}, []string{"model", "outcome"}),
		serving: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "model_serving",
			Help: "1 for each model version being served, labelled by role (primary, canary)."}, []string{"model", "version", "role"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "predictions_total",
			Help: "Predicted classes (argmax) of classifier outputs."}, []string{"model", "version", "class"}),
		PayloadsDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "payloads_dropped_total",
			Help: "Sampled payloads dropped because the payload log fell behind."}),
	}
	r.MustRegister(m.requests, m.duration, m.queue, m.compute, m.batch, m.inflight, m.loads, m.serving, m.predictions, m.PayloadsDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &queueCollector{eng: eng})
	return m
}

// Batch implements engine.Observer.
func (m *Metrics) Batch(model, version string, rows, _ int, _ time.Duration) {
	m.batch.WithLabelValues(model, version).Observe(float64(rows))
}

// Load implements engine.Observer.
func (m *Metrics) Load(model, _ string, outcome string) {
	m.loads.WithLabelValues(model, outcome).Inc()
}

// Serving implements engine.Observer.
func (m *Metrics) Serving(model, primary, canary string) {
	m.dropRetired(model, primary, canary)
	m.serving.DeletePartialMatch(prometheus.Labels{"model": model})
	if primary != "" {
		m.serving.WithLabelValues(model, primary, "primary").Set(1)
	}
	if canary != "" {
		m.serving.WithLabelValues(model, canary, "canary").Set(1)
	}
}

// dropRetired deletes the per-version series of model's versions other than
// the ones now serving. A retired version's last counts are lost if they were
// not scraped yet; its requests still draining may bring a series back,
// which the next change of version removes again.
func (m *Metrics) dropRetired(model string, serving ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := m.served[model]
	if seen == nil {
		seen = map[string]bool{}
		m.served[model] = seen
	}
	now := map[string]bool{}
	for _, v := range serving {
		if v != "" {
			now[v] = true
			seen[v] = true
		}
	}
	for v := range seen {
		if now[v] {
			continue
		}
		l := prometheus.Labels{"model": model, "version": v}
		for _, c := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.requests, m.duration, m.queue, m.compute, m.batch, m.predictions} {
			c.DeletePartialMatch(l)
		}
	}
}

func (m *Metrics) observeRequest(model, version, outcome string, total time.Duration, info engine.InferInfo, resp *oip.InferResponse) {
	m.requests.WithLabelValues(model, version, outcome).Inc()
	if outcome != "success" {
		return
	}
	m.duration.WithLabelValues(model, version).Observe(total.Seconds())
	m.queue.WithLabelValues(model, version).Observe(info.Queue.Seconds())
	m.compute.WithLabelValues(model, version).Observe(info.Compute.Seconds())
	m.countClasses(model, version, resp)
}

// maxClasses bounds the class label's cardinality.
const maxClasses = 100

// countClasses counts argmax classes when the response is one float matrix
// [N, K] with 2 <= K <= maxClasses: the shape of a classifier's scores.
func (m *Metrics) countClasses(model, version string, resp *oip.InferResponse) {
	if len(resp.Outputs) != 1 {
		return
	}
	t := resp.Outputs[0]
	if len(t.Shape) != 2 || t.Shape[1] < 2 || t.Shape[1] > maxClasses {
		return
	}
	switch t.Datatype {
	case oip.FP32, oip.FP64, oip.FP16, oip.BF16:
	default:
		return
	}
	k := int(t.Shape[1])
	for row := 0; row < int(t.Shape[0]); row++ {
		best := 0
		for j := 1; j < k; j++ {
			if t.Float64(row*k+j) > t.Float64(row*k+best) {
				best = j
			}
		}
		m.predictions.WithLabelValues(model, version, strconv.Itoa(best)).Inc()
	}
}

type queueCollector struct{ eng func() *engine.Engine }

var queueDesc = prometheus.NewDesc(ns+"_queue_length", "Requests waiting for a model instance.", []string{"model", "version"}, nil)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.eng()
	if e == nil {
		return
	}
	for _, q := range e.QueueDepths() {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Waiting), q.Model, q.Version)
	}
}
