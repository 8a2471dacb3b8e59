package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// double is a fake model: y = 2x, batch-major, recording batch sizes.
func double(sizes *[]int, mu *sync.Mutex) RunFunc {
	return func(ctx context.Context, in []*oip.Tensor, _ []string) ([]*oip.Tensor, error) {
		mu.Lock()
		*sizes = append(*sizes, int(in[0].Shape[0]))
		mu.Unlock()
		v := in[0].Float32s()
		for i := range v {
			v[i] *= 2
		}
		return []*oip.Tensor{oip.NewFP32("y", in[0].Shape, v)}, nil
	}
}

func TestMergesAndSplitsPerRequest(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	b := New(Config{Workers: 1, MaxBatchSize: 16, MaxQueueDelay: 20 * time.Millisecond, QueueSize: 64, Batchable: true}, double(&sizes, &mu))
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows := 1 + i%3
			v := make([]float32, rows*2)
			for k := range v {
				v[k] = float32(i*100 + k)
			}
			res, err := b.Submit(context.Background(), []*oip.Tensor{oip.NewFP32("x", []int64{int64(rows), 2}, v)}, nil)
			if err != nil {
				errs <- err
				return
			}
			got := res.Outputs[0].Float32s()
			if len(got) != len(v) || res.Outputs[0].Shape[0] != int64(rows) {
				errs <- fmt.Errorf("request %d: got %d values shape %v", i, len(got), res.Outputs[0].Shape)
				return
			}
			for k := range v {
				if got[k] != 2*v[k] {
					errs <- fmt.Errorf("request %d got another request's rows: %v", i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	merged := false
	for _, s := range sizes {
		if s > 16 {
			t.Fatalf("batch of %d rows exceeds max 16", s)
		}
		if s > 3 {
			merged = true
		}
	}
	if !merged {
		t.Fatalf("no batch was merged: sizes %v", sizes)
	}
}

func TestQueueFullFailsFast(t *testing.T) {
	release := make(chan struct{})
	b := New(Config{Workers: 1, QueueSize: 2}, func(ctx context.Context, in []*oip.Tensor, _ []string) ([]*oip.Tensor, error) {
		<-release
		return in, nil
	})
	in := []*oip.Tensor{oip.NewFP32("x", []int64{1}, []float32{1})}
	var wg sync.WaitGroup
	var full atomic.Int32
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Submit(context.Background(), in, nil); errors.Is(err, ErrQueueFull) {
				full.Add(1)
			}
		}()
	}
	// 1 running + 2 queued; the other 3 must be refused without waiting.
	deadline := time.Now().Add(5 * time.Second)
	for full.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if full.Load() != 3 {
		t.Fatalf("%d requests refused, want 3", full.Load())
	}
	b.Close()
	if _, err := b.Submit(context.Background(), in, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close: %v", err)
	}
}

func TestCloseDrainsQueued(t *testing.T) {
	var n atomic.Int32
	b := New(Config{Workers: 1, QueueSize: 100}, func(ctx context.Context, in []*oip.Tensor, _ []string) ([]*oip.Tensor, error) {
		time.Sleep(time.Millisecond)
		n.Add(1)
		return in, nil
	})
	in := []*oip.Tensor{oip.NewFP32("x", []int64{1}, []float32{1})}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Submit(context.Background(), in, nil); err != nil {
				failed.Add(1)
			}
		}()
	}
	for b.QueueLen() == 0 && n.Load() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.Close()
	wg.Wait()
	if int(n.Load())+int(failed.Load()) != 20 || n.Load() == 0 {
		t.Fatalf("ran %d, refused %d of 20", n.Load(), failed.Load())
	}
}

func TestCancelledWhileQueuedIsSkipped(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	b := New(Config{Workers: 1, QueueSize: 4}, func(ctx context.Context, in []*oip.Tensor, _ []string) ([]*oip.Tensor, error) {
		runs.Add(1)
		<-release
		return in, nil
	})
	defer b.Close()
	in := []*oip.Tensor{oip.NewFP32("x", []int64{1}, []float32{1})}
	go b.Submit(context.Background(), in, nil) // occupies the worker
	for runs.Load() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := b.Submit(ctx, in, nil); errc <- err }()
	for b.QueueLen() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(release)
	time.Sleep(20 * time.Millisecond)
	if runs.Load() != 1 {
		t.Fatalf("cancelled request ran: %d runs", runs.Load())
	}
}

func TestIncompatibleShapesNotMerged(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	run := double(&sizes, &mu)
	b := New(Config{Workers: 1, MaxBatchSize: 8, MaxQueueDelay: 10 * time.Millisecond, QueueSize: 8, Batchable: true}, run)
	defer b.Close()
	var wg sync.WaitGroup
	for i, cols := range []int{2, 3, 2, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := make([]float32, cols)
			res, err := b.Submit(context.Background(), []*oip.Tensor{oip.NewFP32("x", []int64{1, int64(cols)}, v)}, nil)
			if err != nil || res.Outputs[0].Shape[1] != int64(cols) {
				t.Errorf("request %d: %v %v", i, err, res.Outputs)
			}
		}()
	}
	wg.Wait()
}

func TestNonBatchMajorOutputFallsBack(t *testing.T) {
	var calls atomic.Int32
	b := New(Config{Workers: 1, MaxBatchSize: 8, MaxQueueDelay: 20 * time.Millisecond, QueueSize: 8, Batchable: true},
		func(ctx context.Context, in []*oip.Tensor, _ []string) ([]*oip.Tensor, error) {
			calls.Add(1)
			// a reduction over the batch: output does not follow the batch axis
			return []*oip.Tensor{oip.NewFP32("sum", []int64{1}, []float32{float32(in[0].Shape[0])})}, nil
		})
	defer b.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.Submit(context.Background(), []*oip.Tensor{oip.NewFP32("x", []int64{1}, []float32{1})}, nil)
			if err != nil || res.Outputs[0].Float32s()[0] != 1 {
				t.Errorf("got %v %v, want each request run alone", err, res.Outputs)
			}
		}()
	}
	wg.Wait()
}
