// Package batcher queues inference requests for one model version and runs
// them on a fixed number of workers, merging compatible requests along the
// batch axis (dimension 0) up to a maximum batch size or queue delay, then
// splitting the outputs back so each request gets exactly its own rows.
//
// The queue is bounded: Submit fails fast with ErrQueueFull instead of
// growing memory, and the server turns that into 503 + Retry-After.
// The package knows nothing about HTTP or ONNX Runtime: it runs a RunFunc.
package batcher

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// RunFunc runs one (possibly merged) batch. Inputs are in model order.
type RunFunc func(ctx context.Context, inputs []*oip.Tensor, outputs []string) ([]*oip.Tensor, error)

// Errors returned by Submit.
var (
	ErrQueueFull = errors.New("queue full")
	ErrClosed    = errors.New("model version is shutting down")
)

// Config sets the batching policy.
type Config struct {
	// Workers is how many batches run at once (model instances).
	Workers int
	// MaxBatchSize is the largest merged batch in rows; <= 1 disables merging.
	MaxBatchSize int
	// MaxQueueDelay is how long a worker waits for more requests to fill a
	// batch once it holds one; 0 merges only what is already queued.
	MaxQueueDelay time.Duration
	// QueueSize bounds the requests waiting for a worker.
	QueueSize int
	// Batchable says whether every input and output has a dynamic first
	// dimension, so requests may be concatenated along it.
	Batchable bool
	// OnBatch, if set, is called after every run with the merged batch size
	// (rows) and the number of requests in it.
	OnBatch func(rows, requests int, compute time.Duration)
}

// Result is what one request gets back.
type Result struct {
	Outputs []*oip.Tensor
	Queue   time.Duration // from Submit until its batch started
	Compute time.Duration // time of the run that served it
	Rows    int           // rows in the merged batch
}

type job struct {
	ctx      context.Context
	inputs   []*oip.Tensor
	outputs  []string
	rows     int
	enqueued time.Time
	done     chan jobResult // buffered: workers never block on a gone client
}

type jobResult struct {
	res Result
	err error
}

// Batcher is a bounded queue with workers. Create it with New.
type Batcher struct {
	cfg   Config
	run   RunFunc
	queue chan *job

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	wg     sync.WaitGroup
}

// New starts cfg.Workers workers.
func New(cfg Config, run RunFunc) *Batcher {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.QueueSize < 1 {
		cfg.QueueSize = 1
	}
	b := &Batcher{cfg: cfg, run: run, queue: make(chan *job, cfg.QueueSize)}
	b.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go b.worker()
	}
	return b
}

// QueueLen is the number of requests waiting for a worker.
func (b *Batcher) QueueLen() int { return len(b.queue) }

// Submit queues one request and waits for its result or ctx's end.
func (b *Batcher) Submit(ctx context.Context, inputs []*oip.Tensor, outputs []string) (Result, error) {
	rows := 1
	if len(inputs) > 0 && len(inputs[0].Shape) > 0 {
		rows = int(inputs[0].Shape[0])
	}
	j := &job{ctx: ctx, inputs: inputs, outputs: outputs, rows: rows, enqueued: time.Now(), done: make(chan jobResult, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return Result{}, ErrClosed
	}
	select {
	case b.queue <- j:
	default:
		b.mu.RUnlock()
		return Result{}, ErrQueueFull
	}
	b.mu.RUnlock()
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Close stops accepting requests, lets the workers finish everything already
// queued, and waits for them.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher) worker() {
	defer b.wg.Done()
	var carry *job
	for {
		j := carry
		carry = nil
		if j == nil {
			var ok bool
			if j, ok = <-b.queue; !ok {
				return
			}
		}
		if j.ctx.Err() != nil {
			j.done <- jobResult{err: j.ctx.Err()}
			continue
		}
		batch := []*job{j}
		if b.cfg.Batchable && b.cfg.MaxBatchSize > 1 && j.rows < b.cfg.MaxBatchSize {
			batch, carry = b.collect(j)
		}
		b.runBatch(batch)
	}
}

// collect gathers compatible jobs after first until the batch is full, the
// delay passes or an incompatible job arrives (returned as carry for the next round).
func (b *Batcher) collect(first *job) (batch []*job, carry *job) {
	batch = []*job{first}
	rows := first.rows
	var timeout <-chan time.Time
	if b.cfg.MaxQueueDelay > 0 {
		t := time.NewTimer(b.cfg.MaxQueueDelay)
		defer t.Stop()
		timeout = t.C
	}
	yields := 0
	for rows < b.cfg.MaxBatchSize {
		var k *job
		var ok bool
		if timeout == nil {
			select {
			case k, ok = <-b.queue:
			default:
				// Without a delay, give the goroutines that are
				// decoding requests a chance to queue them before the
				// batch closes: a scheduler yield costs ~100 ns when
				// nothing else is runnable (a lone request), and
				// under load it is what lets batches form at all. On
				// the MLP at concurrency 64 runs went from 1.01 to ~6
				// rows and throughput up ~30% (BenchmarkServeVsInProcess).
				if yields < 2 {
					yields++
					goruntime.Gosched()
					continue
				}
				return batch, nil
			}
		} else {
			select {
			case k, ok = <-b.queue:
			case <-timeout:
				return batch, nil
			}
		}
		if !ok {
			return batch, nil
		}
		if k.ctx.Err() != nil {
			k.done <- jobResult{err: k.ctx.Err()}
			continue
		}
		if rows+k.rows > b.cfg.MaxBatchSize || !compatible(first, k) {
			return batch, k
		}
		batch = append(batch, k)
		rows += k.rows
	}
	return batch, nil
}

func compatible(a, b *job) bool {
	if len(a.inputs) != len(b.inputs) || len(a.outputs) != len(b.outputs) {
		return false
	}
	for i, x := range a.inputs {
		y := b.inputs[i]
		if x.Name != y.Name || x.Datatype != y.Datatype || len(x.Shape) != len(y.Shape) || len(x.Shape) == 0 {
			return false
		}
		for d := 1; d < len(x.Shape); d++ {
			if x.Shape[d] != y.Shape[d] {
				return false
			}
		}
	}
	for i := range a.outputs {
		if a.outputs[i] != b.outputs[i] {
			return false
		}
	}
	return true
}

func (b *Batcher) runBatch(batch []*job) {
	start := time.Now()
	if len(batch) == 1 {
		j := batch[0]
		out, err := b.run(j.ctx, j.inputs, j.outputs)
		compute := time.Since(start)
		b.observe(j.rows, 1, compute)
		j.done <- jobResult{res: Result{Outputs: out, Queue: start.Sub(j.enqueued), Compute: compute, Rows: j.rows}, err: err}
		return
	}
	rows := 0
	for _, j := range batch {
		rows += j.rows
	}
	merged := concat(batch, rows)
	// A merged batch serves several clients, so no single client's
	// cancellation may stop it; it is bounded by the run itself.
	out, err := b.run(context.WithoutCancel(batch[0].ctx), merged, batch[0].outputs)
	compute := time.Since(start)
	var parts [][]*oip.Tensor
	if err == nil {
		parts, err = split(out, batch, rows)
	}
	if err != nil {
		// The batch failed as a whole (or its outputs do not follow the
		// batch axis): run each request alone so one bad request cannot
		// fail its neighbours and the error each gets is its own.
		for _, j := range batch {
			b.runBatch([]*job{j})
		}
		return
	}
	b.observe(rows, len(batch), compute)
	for i, j := range batch {
		j.done <- jobResult{res: Result{Outputs: parts[i], Queue: start.Sub(j.enqueued), Compute: compute, Rows: rows}}
	}
}

func (b *Batcher) observe(rows, requests int, compute time.Duration) {
	if b.cfg.OnBatch != nil {
		b.cfg.OnBatch(rows, requests, compute)
	}
}

func concat(batch []*job, rows int) []*oip.Tensor {
	first := batch[0].inputs
	merged := make([]*oip.Tensor, len(first))
	for i, t := range first {
		shape := append([]int64{int64(rows)}, t.Shape[1:]...)
		m := &oip.Tensor{Name: t.Name, Datatype: t.Datatype, Shape: shape}
		if t.Datatype == oip.BYTES {
			for _, j := range batch {
				m.Strings = append(m.Strings, j.inputs[i].Strings...)
			}
		} else {
			size := 0
			for _, j := range batch {
				size += len(j.inputs[i].Data)
			}
			m.Data = make([]byte, 0, size)
			for _, j := range batch {
				m.Data = append(m.Data, j.inputs[i].Data...)
			}
		}
		merged[i] = m
	}
	return merged
}

// split cuts every output along dimension 0 into each job's rows.
func split(out []*oip.Tensor, batch []*job, rows int) ([][]*oip.Tensor, error) {
	parts := make([][]*oip.Tensor, len(batch))
	for _, t := range out {
		if len(t.Shape) == 0 || t.Shape[0] != int64(rows) {
			return nil, fmt.Errorf("output %q has shape %v, not batch-major over %d rows", t.Name, t.Shape, rows)
		}
		off := 0
		for i, j := range batch {
			p := &oip.Tensor{Name: t.Name, Datatype: t.Datatype, Shape: append([]int64{int64(j.rows)}, t.Shape[1:]...)}
			if t.Datatype == oip.BYTES {
				per := len(t.Strings) / rows
				p.Strings = t.Strings[off*per : (off+j.rows)*per]
			} else {
				per := len(t.Data) / rows
				p.Data = t.Data[off*per : (off+j.rows)*per]
			}
			parts[i] = append(parts[i], p)
			off += j.rows
		}
	}
	return parts, nil
}
