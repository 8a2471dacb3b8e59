package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/batcher"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// ErrQueueFull is returned by Infer when the model's queue is full; the
// client should retry later (503 with Retry-After).
var ErrQueueFull = batcher.ErrQueueFull

// Observer receives engine events for metrics. Implementations must be
// safe for concurrent use.
type Observer interface {
	Batch(model, version string, rows, requests int, compute time.Duration)
	Load(model, version, outcome string)
	Serving(model, primary, canary string)
}

// Options configure an Engine.
type Options struct {
	// Instances is how many batches of one version run at once.
	Instances     int
	MaxBatchSize  int
	MaxQueueDelay time.Duration
	// QueueSize bounds waiting requests per version.
	QueueSize int
	Logger    *slog.Logger
	Observer  Observer
	// Warmup configures the run each new version gets before it serves.
	Warmup Warmup
	// Limits bound each request's inputs (400 over them).
	Limits Limits
}

// DefaultInstances is the instance count for a machine: ONNX Runtime on the
// CPU parallelises one run over intra-op threads, so a couple of instances
// overlap request handling with compute without oversubscribing cores.
func DefaultInstances() int { return min(max(runtime.NumCPU()/2, 1), 4) + 1 }

// Spec names a model to serve.
type Spec struct {
	Name string
	Ref  string
	// CanaryRef and CanaryPercent route that share of requests to a second version.
	CanaryRef     string
	CanaryPercent float64
}

// Model states reported by the repository index.
const (
	StateReady       = "READY"
	StateUnavailable = "UNAVAILABLE"
)

type model struct {
	spec     Spec
	primary  atomic.Pointer[version]
	canary   atomic.Pointer[version]
	reloadMu sync.Mutex // one load/reload/unload of this model at a time

	stateMu sync.Mutex
	state   string
	reason  string
	// unloaded is set by Unload and cleared by Load: a poll must not undo it.
	unloaded bool
	// failed remembers, per slot, the version whose load failed, so a poll
	// retries a model that never loaded only when its content changes.
	failed map[*atomic.Pointer[version]]string
}

// Engine serves a set of models. Create it with New.
type Engine struct {
	loader Loader
	opts   Options
	mu     sync.RWMutex
	models map[string]*model
}

// New returns an empty engine.
func New(loader Loader, opts Options) *Engine {
	if opts.Instances < 1 {
		opts.Instances = DefaultInstances()
	}
	if opts.QueueSize < 1 {
		opts.QueueSize = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{loader: loader, opts: opts, models: map[string]*model{}}
}

// Add registers a model and loads it; a load failure is returned and the
// model stays registered as UNAVAILABLE, with the failure as its reason, so
// that the other models serve and a later load (or poll) can retry.
func (e *Engine) Add(ctx context.Context, spec Spec) error {
	e.mu.Lock()
	if _, dup := e.models[spec.Name]; dup {
		e.mu.Unlock()
		return fmt.Errorf("model %q is given twice; name one of them with NAME=PATH", spec.Name)
	}
	m := &model{spec: spec, state: StateUnavailable, reason: "loading", failed: map[*atomic.Pointer[version]]string{}}
	e.models[spec.Name] = m
	e.mu.Unlock()
	_, err := e.reload(ctx, m, false)
	return err
}

func (e *Engine) get(name string) (*model, error) {
	e.mu.RLock()
	m := e.models[name]
	e.mu.RUnlock()
	if m == nil {
		return nil, oip.Errorf(http.StatusNotFound, "model %q is not served here; GET /v2/repository/index lists the models", name)
	}
	return m, nil
}

// Load (re)loads a model: it resolves the reference again and, when it
// names new content, loads and warms it beside the serving version, swaps it
// in and drains the old one. changed is false when the content is the same.
func (e *Engine) Load(ctx context.Context, name string) (changed bool, err error) {
	m, err := e.get(name)
	if err != nil {
		return false, err
	}
	return e.reload(ctx, m, false)
}

// reload re-resolves and swaps; with onlyLoaded it skips a model that was
// unloaded meanwhile (a poll must not undo an unload).
func (e *Engine) reload(ctx context.Context, m *model, onlyLoaded bool) (bool, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if onlyLoaded && m.unloaded {
		return false, nil
	}
	m.unloaded = false
	name := m.spec.Name
	changed, err := e.swapIn(ctx, m, &m.primary, m.spec.Ref, onlyLoaded)
	if err == nil && m.spec.CanaryRef != "" {
		var c bool
		c, err = e.swapIn(ctx, m, &m.canary, m.spec.CanaryRef, onlyLoaded)
		changed = changed || c
	}
	if err != nil {
		if m.primary.Load() == nil {
			m.setState(StateUnavailable, err.Error())
		}
		return false, err
	}
	if m.primary.Load() == nil {
		return false, nil // a poll skipped a version that already failed
	}
	m.setState(StateReady, "")
	if changed && e.opts.Observer != nil {
		e.opts.Observer.Serving(name, versionOf(m.primary.Load()), versionOf(m.canary.Load()))
	}
	return changed, nil
}

func versionOf(v *version) string {
	if v == nil {
		return ""
	}
	return v.meta.Version
}

// swapIn loads ref into slot when it resolves to new content; with
// skipFailed it also skips the content whose load failed last time.
func (e *Engine) swapIn(ctx context.Context, m *model, slot *atomic.Pointer[version], ref string, skipFailed bool) (bool, error) {
	name := m.spec.Name
	log := e.opts.Logger.With("model", name, "ref", ref)
	r, err := e.loader.Resolve(ctx, ref)
	if err != nil {
		e.loadOutcome(name, "", err)
		log.Error("model resolve failed; the serving version (if any) keeps serving", "error", err.Error())
		return false, err // Loader.Resolve's errors name ref
	}
	old := slot.Load()
	if old != nil && old.meta.Version == r.Version {
		return false, nil
	}
	if skipFailed && m.failed[slot] == r.Version {
		return false, nil
	}
	start := time.Now()
	be, err := e.loader.Open(ctx, r)
	var v *version
	if err == nil {
		v, err = newVersion(ctx, name, ref, r, be, &e.opts)
	}
	if err != nil {
		m.failed[slot] = r.Version
		e.loadOutcome(name, r.Version, err)
		log.Error("model load failed; the serving version (if any) keeps serving", "version", r.Version, "error", err.Error())
		if strings.Contains(err.Error(), ref) {
			return false, err // the runtime's error names the file already
		}
		return false, fmt.Errorf("load %s: %w", ref, err)
	}
	delete(m.failed, slot)
	slot.Store(v)
	e.loadOutcome(name, r.Version, nil)
	log.Info("model version serving", "version", r.Version, "previous", versionOf(old), "load_seconds", time.Since(start).Seconds())
	if old != nil {
		old.retire()
	}
	return true, nil
}

func (e *Engine) loadOutcome(name, version string, err error) {
	if e.opts.Observer == nil {
		return
	}
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	e.opts.Observer.Load(name, version, outcome)
}

func (m *model) setState(state, reason string) {
	m.stateMu.Lock()
	m.state, m.reason = state, reason
	m.stateMu.Unlock()
}

// Unload stops serving a model: new requests get 503, in-flight ones finish.
// The model stays in the index so that a load brings it back.
func (e *Engine) Unload(name string) error {
	m, err := e.get(name)
	if err != nil {
		return err
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.primary.Load() == nil && m.canary.Load() == nil {
		return nil // already unloaded (or never loaded)
	}
	m.setState(StateUnavailable, "unloaded")
	m.unloaded = true
	for _, slot := range []*atomic.Pointer[version]{&m.primary, &m.canary} {
		if v := slot.Swap(nil); v != nil {
			v.retire()
		}
	}
	if e.opts.Observer != nil {
		e.opts.Observer.Serving(name, "", "")
	}
	e.opts.Logger.Info("model unloaded", "model", name)
	return nil
}

// acquire picks the version to serve a request (canary routing when no
// version is named) and holds it; the caller must call v.mu.RUnlock.
func (m *model) acquire(want string) (*version, string, error) {
	for {
		p, c := m.primary.Load(), m.canary.Load()
		var v *version
		role := "primary"
		switch {
		case want != "":
			if p != nil && p.meta.Version == want {
				v = p
			} else if c != nil && c.meta.Version == want {
				v, role = c, "canary"
			} else {
				return nil, "", oip.Errorf(http.StatusNotFound, "model %q has no version %q being served (serving %s)", m.spec.Name, want, m.versionsString())
			}
		case c != nil && rand.Float64()*100 < m.spec.CanaryPercent:
			v, role = c, "canary"
		default:
			v = p
		}
		if v == nil {
			return nil, "", m.unavailable()
		}
		v.mu.RLock()
		if !v.retired {
			return v, role, nil
		}
		v.mu.RUnlock() // replaced while we looked: take the new one
	}
}

// unavailable is the 503 for a model with no version serving: unloaded,
// still loading, or failed to load (with the reason).
func (m *model) unavailable() error {
	m.stateMu.Lock()
	reason := m.reason
	m.stateMu.Unlock()
	name := m.spec.Name
	switch reason {
	case "unloaded", "":
		return oip.Errorf(http.StatusServiceUnavailable, "model %q is not loaded; POST /v2/repository/models/%s/load to load it", name, name)
	case "loading":
		return oip.Errorf(http.StatusServiceUnavailable, "model %q is still loading; retry shortly", name)
	}
	return oip.Errorf(http.StatusServiceUnavailable, "model %q is unavailable: it failed to load: %s; "+
		"fix it and POST /v2/repository/models/%s/load", name, reason, name)
}

func (m *model) versionsString() string {
	s := versionOf(m.primary.Load())
	if c := versionOf(m.canary.Load()); c != "" {
		s += ", " + c
	}
	if s == "" {
		return "none"
	}
	return s
}

// InferInfo says how a request was served.
type InferInfo struct {
	Version string
	Role    string // primary or canary
	Queue   time.Duration
	Compute time.Duration
	Rows    int // batch rows of the run that served it
}

// Infer validates and runs one request on model name (version "" lets the
// engine choose, including canary routing).
func (e *Engine) Infer(ctx context.Context, name, version string, req *oip.InferRequest) (*oip.InferResponse, InferInfo, error) {
	m, err := e.get(name)
	if err != nil {
		return nil, InferInfo{}, err
	}
	v, role, err := m.acquire(version)
	if err != nil {
		return nil, InferInfo{}, err
	}
	defer v.mu.RUnlock()
	info := InferInfo{Version: v.meta.Version, Role: role}
	start := time.Now()
	inputs, outputs, err := prepare(&v.meta, v.limits, &e.opts.Limits, req)
	if err != nil {
		v.stats.fail.add(time.Since(start))
		return nil, info, err
	}
	res, err := v.batch.Submit(ctx, inputs, outputs)
	info.Queue, info.Compute, info.Rows = res.Queue, res.Compute, res.Rows
	if err != nil {
		v.stats.fail.add(time.Since(start))
		return nil, info, err
	}
	v.stats.queue.add(res.Queue)
	v.stats.compute.add(res.Compute)
	v.stats.success.add(time.Since(start))
	v.stats.lastInferenceMs.Store(time.Now().UnixMilli())
	resp := &oip.InferResponse{ModelName: name, ModelVersion: v.meta.Version, ID: req.ID, Outputs: res.Outputs, Binary: make([]bool, len(res.Outputs))}
	for i, t := range res.Outputs {
		resp.Binary[i] = req.BinaryOutput
		for _, o := range req.Outputs {
			if o.Name == t.Name {
				resp.Binary[i] = o.Binary
			}
		}
	}
	return resp, info, nil
}

// Metadata describes a model version (version "" means the primary).
func (e *Engine) Metadata(name, version string) (*Metadata, error) {
	m, err := e.get(name)
	if err != nil {
		return nil, err
	}
	v, _, err := m.acquire(orPrimary(m, version))
	if err != nil {
		return nil, err
	}
	defer v.mu.RUnlock()
	md := v.meta
	return &md, nil
}

func orPrimary(m *model, version string) string {
	if version != "" {
		return version
	}
	return versionOf(m.primary.Load())
}

// Versions lists the versions a model serves, primary first.
func (e *Engine) Versions(name string) ([]string, error) {
	m, err := e.get(name)
	if err != nil {
		return nil, err
	}
	var vs []string
	for _, v := range []*version{m.primary.Load(), m.canary.Load()} {
		if v != nil {
			vs = append(vs, v.meta.Version)
		}
	}
	return vs, nil
}

// Ready reports whether a model (version) can serve requests; when the
// model has no version serving, the error (a 503) says why.
func (e *Engine) Ready(name, version string) (bool, error) {
	m, err := e.get(name)
	if err != nil {
		return false, err
	}
	p, c := m.primary.Load(), m.canary.Load()
	if version == "" {
		if p == nil {
			return false, m.unavailable()
		}
		return true, nil
	}
	if (p != nil && p.meta.Version == version) || (c != nil && c.meta.Version == version) {
		return true, nil
	}
	return false, oip.Errorf(http.StatusNotFound, "model %q has no version %q being served", name, version)
}

// AllReady reports whether every registered model is serving.
func (e *Engine) AllReady() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, m := range e.models {
		if m.primary.Load() == nil {
			return false
		}
	}
	return true
}

// AnyReady reports whether at least one model is serving.
func (e *Engine) AnyReady() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, m := range e.models {
		if m.primary.Load() != nil {
			return true
		}
	}
	return false
}

// Unavailable lists the models with no version serving, sorted by name,
// with the reason (IndexEntry.Reason).
func (e *Engine) Unavailable() []IndexEntry {
	var out []IndexEntry
	for _, ie := range e.Index() {
		if ie.State != StateReady {
			out = append(out, ie)
		}
	}
	return out
}

// IndexEntry is one row of the repository index.
type IndexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// Index lists the models with their state, sorted by name.
func (e *Engine) Index() []IndexEntry {
	e.mu.RLock()
	ms := make([]*model, 0, len(e.models))
	for _, m := range e.models {
		ms = append(ms, m)
	}
	e.mu.RUnlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].spec.Name < ms[j].spec.Name })
	var out []IndexEntry
	for _, m := range ms {
		m.stateMu.Lock()
		state, reason := m.state, m.reason
		m.stateMu.Unlock()
		vs := []*version{m.primary.Load(), m.canary.Load()}
		any := false
		for _, v := range vs {
			if v != nil {
				out = append(out, IndexEntry{Name: m.spec.Name, Version: v.meta.Version, State: StateReady})
				any = true
			}
		}
		if !any {
			out = append(out, IndexEntry{Name: m.spec.Name, State: state, Reason: reason})
		}
	}
	return out
}

// QueueDepth is the number of requests waiting for one version.
type QueueDepth struct {
	Model, Version string
	Waiting        int
}

// QueueDepths reports every serving version's queue length.
func (e *Engine) QueueDepths() []QueueDepth {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []QueueDepth
	for name, m := range e.models {
		for _, v := range []*version{m.primary.Load(), m.canary.Load()} {
			if v != nil {
				out = append(out, QueueDepth{Model: name, Version: v.meta.Version, Waiting: v.batch.QueueLen()})
			}
		}
	}
	return out
}

// Poll reloads every model whose reference resolves to new content, every
// interval, until ctx ends. A failed poll is logged and retried next time;
// it never stops the loop (Triton #6534).
func (e *Engine) Poll(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.RLock()
		ms := make([]*model, 0, len(e.models))
		for _, m := range e.models {
			ms = append(ms, m) // reload skips unloaded models and content that already failed
		}
		e.mu.RUnlock()
		for _, m := range ms {
			if _, err := e.reload(ctx, m, true); err != nil && !errors.Is(err, context.Canceled) {
				e.opts.Logger.Warn("poll reload failed", "model", m.spec.Name, "error", err.Error())
			}
		}
	}
}

// Close drains and closes every model.
func (e *Engine) Close() {
	e.mu.RLock()
	names := make([]string, 0, len(e.models))
	for n := range e.models {
		names = append(names, n)
	}
	e.mu.RUnlock()
	for _, n := range names {
		_ = e.Unload(n)
	}
}
