package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/batcher"
)

// Platform is the model platform string the protocol uses for ONNX models.
const Platform = "onnx_onnxv1"

// Metadata is what GET /v2/models/{m} reports, plus whether requests may be
// merged along the first dimension.
type Metadata struct {
	Name      string
	Version   string
	Platform  string
	Inputs    []TensorMeta
	Outputs   []TensorMeta
	Batchable bool
}

// version is one loaded model version: a backend behind a batcher.
// Requests hold mu for reading while they use it; retiring takes it for
// writing, which waits for them (the drain) and turns later arrivals away to
// the version that replaced it.
type version struct {
	meta    Metadata
	ref     string
	backend Backend
	limits  []inputLimit // per input, in meta.Inputs order
	batch   *batcher.Batcher
	stats   versionStats

	mu      sync.RWMutex
	retired bool
}

type durationStat struct {
	count atomic.Int64
	ns    atomic.Int64
}

func (d *durationStat) add(t time.Duration) {
	d.count.Add(1)
	d.ns.Add(int64(t))
}

type versionStats struct {
	success, fail, queue, compute durationStat
	inferences, executions        atomic.Int64
	lastInferenceMs               atomic.Int64
}

func newVersion(ctx context.Context, name, ref string, r Resolved, be Backend, opts *Options) (*version, error) {
	meta := Metadata{Name: name, Version: r.Version, Platform: Platform, Inputs: be.Inputs(), Outputs: be.Outputs()}
	meta.Batchable = batchable(meta.Inputs, meta.Outputs)
	limits, err := opts.Limits.resolve(name, meta.Inputs)
	if err != nil {
		_ = be.Close()
		return nil, err
	}
	v := &version{meta: meta, ref: ref, backend: be, limits: limits}
	v.batch = batcher.New(batcher.Config{
		Workers:       opts.Instances,
		MaxBatchSize:  opts.MaxBatchSize,
		MaxQueueDelay: opts.MaxQueueDelay,
		QueueSize:     opts.QueueSize,
		Batchable:     meta.Batchable,
		OnBatch: func(rows, requests int, compute time.Duration) {
			v.stats.executions.Add(1)
			v.stats.inferences.Add(int64(rows))
			if opts.Observer != nil {
				opts.Observer.Batch(name, r.Version, rows, requests, compute)
			}
		},
	}, be.Run)
	if err := v.warm(ctx, opts.Warmup, opts.Logger); err != nil {
		v.close()
		return nil, fmt.Errorf("warm-up of %s version %s: %w", name, r.Version, err)
	}
	return v, nil
}

// batchable: every input and output has rank >= 1 and a dynamic first dimension.
func batchable(in, out []TensorMeta) bool {
	if len(in) == 0 {
		return false
	}
	for _, ts := range [][]TensorMeta{in, out} {
		for _, t := range ts {
			if len(t.Shape) == 0 || t.Shape[0] >= 0 {
				return false
			}
		}
	}
	return true
}

// retire waits for every request holding v, then closes it.
func (v *version) retire() {
	v.mu.Lock()
	v.retired = true
	v.mu.Unlock()
	v.close()
}

func (v *version) close() {
	v.batch.Close()
	_ = v.backend.Close()
}
