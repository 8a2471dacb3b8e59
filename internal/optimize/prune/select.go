package prune

import (
	"math"
	"sort"
)

// roundHalfEven is Python's round(), which torch.nn.utils.prune uses to
// turn a fraction into a count.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }

// kthSmallest returns the k-th smallest value (0-based) of v, reordering v.
func kthSmallest(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// median of three keeps sorted and reversed inputs linear
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// smallestMask marks the k entries of imp (over several tensors, in order)
// with the smallest importance. Ties at the threshold go to the earliest
// positions, so the result is deterministic.
func smallestMask(imp [][]float32, k int) [][]bool {
	masks := make([][]bool, len(imp))
	total := 0
	for i, v := range imp {
		masks[i] = make([]bool, len(v))
		total += len(v)
	}
	if k <= 0 || total == 0 {
		return masks
	}
	if k > total {
		k = total
	}
	pool := make([]float32, 0, total)
	for _, v := range imp {
		pool = append(pool, v...)
	}
	thr := kthSmallest(pool, k-1)
	below := 0
	for _, v := range imp {
		for _, x := range v {
			if x < thr {
				below++
			}
		}
	}
	atThr := k - below
	for i, v := range imp {
		for j, x := range v {
			if x < thr || (x == thr && atThr > 0) {
				if x == thr {
					atThr--
				}
				masks[i][j] = true
			}
		}
	}
	return masks
}

// nmMask marks the n smallest of every m consecutive elements along axis of
// a tensor with the given dims. A last group shorter than m gets
// floor(len×n/m) zeros.
func nmMask(imp []float32, dims []int64, axis, n, m int) []bool {
	mask := make([]bool, len(imp))
	if axis < 0 || axis >= len(dims) {
		return mask
	}
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= int(d)
	}
	size := int(dims[axis])
	outer := 1
	for _, d := range dims[:axis] {
		outer *= int(d)
	}
	idx := make([]int, 0, m)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*size*inner + in
			for start := 0; start < size; start += m {
				end := min(start+m, size)
				idx = idx[:0]
				for j := start; j < end; j++ {
					idx = append(idx, base+j*inner)
				}
				zeros := n
				if len(idx) < m {
					zeros = len(idx) * n / m
				}
				sort.SliceStable(idx, func(a, b int) bool { return imp[idx[a]] < imp[idx[b]] })
				for _, p := range idx[:zeros] {
					mask[p] = true
				}
			}
		}
	}
	return mask
}
