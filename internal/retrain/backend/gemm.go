package backend

// Register blocking of the micro-kernel: it computes an mr×nr tile of C from a packed mr×kc strip
// of A and a packed kc×nr strip of B.
const (
	mr = 6
	nr = 16
	// kcBlock is the depth of one packed block: a kc×nr strip of B (16 KiB) stays in L1 while the
	// micro-kernel runs down the strips of A.
	kcBlock = 256
	// ncMax bounds the columns one task packs per block (kcBlock×ncMax×4 = 512 KiB, in L2).
	ncMax = 512
	// prepackMax bounds the floats of A packed up front and shared by all tasks (2 MiB).
	prepackMax = 1 << 19
	// maxKSplit bounds how many partial products a long, narrow product is split into.
	maxKSplit = 8
)

// mat is a strided view of a float32 matrix: element (i, j) is data[i*rs + j*cs].
type mat struct {
	data   []float32
	rs, cs int
}

func (m mat) at(i, j int) float32 { return m.data[i*m.rs+j*m.cs] }

// outView says where C(i, j) goes: data[i*rs + (j/inner)*outer + (j%inner)*cs], or
// data[i*rs + j*cs] when inner is 0. The two-level column index lets a convolution write an
// output whose columns (batch, spatial) are not one stride apart.
type outView struct {
	data               []float32
	rs, cs             int
	inner, outerStride int
}

func (o outView) offset(i, j int) int {
	if o.inner == 0 {
		return i*o.rs + j*o.cs
	}
	return i*o.rs + (j/o.inner)*o.outerStride + (j%o.inner)*o.cs
}

// contiguous reports whether the nb columns starting at j are adjacent in memory.
func (o outView) contiguous(j, nb int) bool {
	return o.cs == 1 && (o.inner == 0 || j%o.inner+nb <= o.inner)
}

// gemmOp is one product C (+)= A·B with A m×k and B k×n, given by packers.
type gemmOp struct {
	m, n, k int
	// packA packs rows [i0, i0+mc) and columns [p0, p0+kc) of A into mr-row strips: strip s
	// holds, for each p, mr values (zero past the last row).
	packA func(dst []float32, i0, mc, p0, kc int)
	// packB packs rows [p0, p0+kc) and columns [j0, j0+nb), nb ≤ nr, of B into one strip: for
	// each p, nr values (zero past the last column).
	packB      func(dst []float32, p0, kc, j0, nb int)
	out        outView
	accumulate bool
}

// matA and matB return packers for strided matrices.
func matA(a mat) func([]float32, int, int, int, int) {
	return func(dst []float32, i0, mc, p0, kc int) { packAMat(dst, a, i0, mc, p0, kc) }
}

func matB(b mat) func([]float32, int, int, int, int) {
	return func(dst []float32, p0, kc, j0, nb int) { packBMat(dst, b, p0, kc, j0, nb) }
}

// gemm computes C (+)= A·B for strided matrices, C row-major with leading dimension ldc.
func gemm(sc scratch, m, n, k int, a, b mat, c []float32, ldc int, accumulate bool) {
	op := gemmOp{m: m, n: n, k: k, out: outView{data: c, rs: ldc, cs: 1}, accumulate: accumulate}
	if m > n && n < 4*nr {
		// Tasks split the columns: with few of them, compute Cᵀ = Bᵀ·Aᵀ instead.
		op.m, op.n = n, m
		op.packA = matA(mat{data: b.data, rs: b.cs, cs: b.rs})
		op.packB = matB(mat{data: a.data, rs: a.cs, cs: a.rs})
		op.out = outView{data: c, rs: 1, cs: ldc}
	} else {
		op.packA, op.packB = matA(a), matB(b)
	}
	op.run(sc)
}

// kSplit is how many partial products a product is cut into along k: only long, narrow
// products, whose columns alone cannot keep the cores busy, are cut. It depends on the shape
// only, so the summation order, hence the result, is the same on any machine.
func (op *gemmOp) kSplit(nTiles int) int {
	if nTiles >= 4 || op.k < 4*kcBlock {
		return 1
	}
	return min(maxKSplit, op.k/(2*kcBlock))
}

// run computes the product. Every element of C is summed in the same order whatever the
// number of goroutines, so the result is deterministic.
func (op *gemmOp) run(sc scratch) {
	m, n, k := op.m, op.n, op.k
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !op.accumulate {
			for i := range m {
				for j := range n {
					op.out.data[op.out.offset(i, j)] = 0
				}
			}
		}
		return
	}
	parallel := parallelWorthIt(2 * m * n * k)
	mStrips := (m + mr - 1) / mr
	mpad := mStrips * mr

	// A is packed once, by blocks of kcBlock columns (block starting at p0 holds mStrips strips
	// of kcb×mr values, at p0*mpad), unless that is too big to stay in cache: then each task
	// packs the blocks it needs as it goes.
	kBlocks := (k + kcBlock - 1) / kcBlock
	prepacked := mpad*k <= prepackMax
	var pa []float32
	if prepacked {
		var freePA func()
		pa, freePA = sc.floats(mpad * k)
		defer freePA()
		packABlock := func(kb int) {
			p0 := kb * kcBlock
			op.packA(pa[p0*mpad:], 0, m, p0, min(kcBlock, k-p0))
		}
		if parallel {
			parallelFor(kBlocks, packABlock)
		} else {
			for kb := range kBlocks {
				packABlock(kb)
			}
		}
	}

	// Tasks: column tiles of C times chunks of k.
	nc := ncMax
	if parallel {
		nc = min(ncMax, max(nr, (n+4*nr-1)/(4*nr)*nr))
	}
	nTiles := (n + nc - 1) / nc
	split := 1
	if parallel {
		split = op.kSplit(nTiles)
	}
	blocksPerChunk := (kBlocks + split - 1) / split
	split = (kBlocks + blocksPerChunk - 1) / blocksPerChunk

	// With a split, chunk s > 0 writes its partial product to partials[s-1], row-major m×n,
	// summed into C in chunk order afterwards.
	var partials []float32
	if split > 1 {
		var free func()
		partials, free = sc.floats((split - 1) * m * n)
		defer free()
	}

	task := func(t int) {
		chunk, tile := t/nTiles, t%nTiles
		j0 := tile * nc
		ncb := min(nc, n-j0)
		nStrips := (ncb + nr - 1) / nr
		pb, freePB := sc.floats(nStrips * nr * min(kcBlock, k))
		defer freePB()
		var local []float32
		if !prepacked {
			var freeLocal func()
			local, freeLocal = sc.floats(mpad * min(kcBlock, k))
			defer freeLocal()
		}
		out, accumulate := op.out, op.accumulate
		if chunk > 0 {
			out = outView{data: partials[(chunk-1)*m*n : chunk*m*n], rs: n, cs: 1}
			accumulate = false
		}
		var tmp [mr * nr]float32
		kbEnd := min(kBlocks, (chunk+1)*blocksPerChunk)
		for kb := chunk * blocksPerChunk; kb < kbEnd; kb++ {
			p0 := kb * kcBlock
			kcb := min(kcBlock, k-p0)
			acc := accumulate || kb > chunk*blocksPerChunk
			for s := range nStrips {
				j := j0 + s*nr
				op.packB(pb[s*kcb*nr:], p0, kcb, j, min(nr, n-j))
			}
			var pak []float32
			if prepacked {
				pak = pa[p0*mpad:]
			} else {
				op.packA(local, 0, m, p0, kcb)
				pak = local
			}
			for s := range nStrips {
				j := j0 + s*nr
				nb := min(nr, n-j)
				bs := pb[s*kcb*nr:]
				for is := range mStrips {
					i := is * mr
					mb := min(mr, m-i)
					as := pak[is*kcb*mr:]
					if mb == mr && nb == nr && out.contiguous(j, nr) {
						microKernel(kcb, as, bs, out.data[out.offset(i, j):], out.rs, acc)
						continue
					}
					microKernel(kcb, as, bs, tmp[:], nr, false)
					for r := range mb {
						for q := range nb {
							o := out.offset(i+r, j+q)
							if acc {
								out.data[o] += tmp[r*nr+q]
							} else {
								out.data[o] = tmp[r*nr+q]
							}
						}
					}
				}
			}
		}
	}
	if parallel {
		parallelFor(split*nTiles, task)
	} else {
		for t := range split * nTiles {
			task(t)
		}
	}
	for s := 1; s < split; s++ {
		part := partials[(s-1)*m*n : s*m*n]
		for i := range m {
			for j := range n {
				op.out.data[op.out.offset(i, j)] += part[i*n+j]
			}
		}
	}
}

// packAMat packs rows [i0, i0+mc) and columns [p0, p0+kc) of a into mr-row strips.
func packAMat(dst []float32, a mat, i0, mc, p0, kc int) {
	for s := 0; s*mr < mc; s++ {
		strip := dst[s*kc*mr : (s+1)*kc*mr]
		rows := min(mr, mc-s*mr)
		if rows < mr {
			clear(strip)
		}
		if a.rs == 1 && rows == mr {
			// Column-major: each column's mr values are adjacent.
			for p := range kc {
				base := (p0+p)*a.cs + i0 + s*mr
				copy(strip[p*mr:p*mr+mr], a.data[base:base+mr])
			}
			continue
		}
		for r := range rows {
			base := (i0+s*mr+r)*a.rs + p0*a.cs
			if a.cs == 1 {
				for p, v := range a.data[base : base+kc] {
					strip[p*mr+r] = v
				}
				continue
			}
			for p := range kc {
				strip[p*mr+r] = a.data[base+p*a.cs]
			}
		}
	}
}

// packBMat packs rows [p0, p0+kc) and columns [j0, j0+nb) of b into one nr-column strip.
func packBMat(dst []float32, b mat, p0, kc, j0, nb int) {
	strip := dst[:kc*nr]
	if nb < nr {
		clear(strip)
	}
	if b.cs == 1 {
		for p := range kc {
			base := (p0+p)*b.rs + j0
			copy(strip[p*nr:p*nr+nb], b.data[base:base+nb])
		}
		return
	}
	for q := range nb {
		base := p0*b.rs + (j0+q)*b.cs
		for p := range kc {
			strip[p*nr+q] = b.data[base+p*b.rs]
		}
	}
}

// microKernelGo is the portable micro-kernel: c[r*ldc+q] (+)= Σ_p a[p*mr+r]·b[p*nr+q].
func microKernelGo(kc int, a, b, c []float32, ldc int, accumulate bool) {
	var acc [mr][nr]float32
	for p := range kc {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr : p*nr+nr]
		for r := range mr {
			av := ap[r]
			row := &acc[r]
			for q := range nr {
				row[q] += av * bp[q]
			}
		}
	}
	storeTile(&acc, c, ldc, accumulate)
}

// microKernelIndirectGo is the portable indirect micro-kernel: row p of B is b[offs[p]:][:nr].
func microKernelIndirectGo(kc int, a, b []float32, offs []int, c []float32, ldc int, accumulate bool) {
	var acc [mr][nr]float32
	for p := range kc {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bp := b[offs[p] : offs[p]+nr : offs[p]+nr]
		for r := range mr {
			av := ap[r]
			row := &acc[r]
			for q := range nr {
				row[q] += av * bp[q]
			}
		}
	}
	storeTile(&acc, c, ldc, accumulate)
}

// storeTile writes (or adds) a micro-kernel's accumulators to the mr×nr tile at c.
func storeTile(acc *[mr][nr]float32, c []float32, ldc int, accumulate bool) {
	for r := range mr {
		row := c[r*ldc : r*ldc+nr]
		if accumulate {
			for q := range row {
				row[q] += acc[r][q]
			}
		} else {
			copy(row, acc[r][:])
		}
	}
}
