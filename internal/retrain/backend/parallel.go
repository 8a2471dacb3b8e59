package backend

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs fn(0) … fn(n-1) on up to GOMAXPROCS goroutines (the caller's included) and
// returns when all have finished. Tasks must write disjoint outputs: which goroutine runs a task
// never changes what it computes, so results do not depend on scheduling.
func parallelFor(n int, fn func(task int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	run := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(run)
	}
	run()
	wg.Wait()
}

// parallelWorthIt reports whether a kernel of about this many floating-point operations is large
// enough to pay for fanning out to goroutines (a few microseconds).
func parallelWorthIt(flops int) bool { return flops >= 1<<17 }

// forSlices runs run(0) … run(n-1), each costing about cost operations, in parallel when that
// pays: consecutive slices are grouped into at most 64 tasks.
func forSlices(n, cost int, run func(slice int)) {
	if !parallelWorthIt(n * cost * 4) {
		for s := range n {
			run(s)
		}
		return
	}
	const chunks = 64
	per := (n + chunks - 1) / chunks
	parallelFor((n+per-1)/per, func(c int) {
		for s := c * per; s < min(n, (c+1)*per); s++ {
			run(s)
		}
	})
}

func product(v []int) int {
	p := 1
	for _, x := range v {
		p *= x
	}
	return p
}
