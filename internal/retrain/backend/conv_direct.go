package backend

// The direct path of a convolution: the input is copied once into a zero-padded buffer, and
// the micro-kernel then reads each row of its B strip — 16 consecutive output positions of one
// output row, for one (input channel, kernel position) — in place, through a table of offsets
// (an implicit GEMM). Output rows are covered by strips of 16 columns; the columns past the
// row's end are computed from junk and dropped, so the path is taken only for rows of at
// least directMinRow positions.

const directMinRow = 8

// direct reports whether the direct path applies: unit conv stride, no input dilation and
// contiguous last spatial axes in input and output, non-negative padding, long output rows.
func (p *convPlan) direct() bool {
	if !p.fastRows || p.spatial == 0 {
		return false
	}
	last := p.spatial - 1
	if p.outSpatialStrides[last] != 1 || p.outSpatial[last] < directMinRow {
		return false
	}
	for s := range p.spatial {
		if p.padLo[s] < 0 || p.padHi[s] < 0 {
			return false
		}
	}
	return true
}

// paddedInput is the input copied into a zero-padded [batch][channel][spatial…] buffer.
type paddedInput struct {
	data          []float32
	strides       []int // of the spatial axes
	chanP, batchP int
	// offs[col] is the offset of kernel column (c, k) from a window's origin.
	offs []int
}

func (p *convPlan) padInput(sc scratch, input []float32) (paddedInput, func()) {
	sp := p.spatial
	pdims := make([]int, sp)
	pi := paddedInput{strides: make([]int, sp), chanP: 1}
	for s := sp - 1; s >= 0; s-- {
		pdims[s] = p.inDims[s] + p.padLo[s] + p.padHi[s]
		pi.strides[s] = pi.chanP
		pi.chanP *= pdims[s]
	}
	pi.batchP = p.inChans * pi.chanP
	var free func()
	pi.data, free = sc.floats(p.inBatch*pi.batchP + 2*nr)
	p.pad(input, pi.data, pdims, pi.strides, pi.chanP, pi.batchP)
	pi.offs = make([]int, p.kernelCols)
	for col := range pi.offs {
		off := p.chanOfCol[col] * pi.chanP
		for s := range sp {
			off += p.kernSpatial[col*sp+s] * pi.strides[s]
		}
		pi.offs[col] = off
	}
	return pi, free
}

func (p *convPlan) runDirect(sc scratch, input, kernel, out []float32) {
	sp, last := p.spatial, p.spatial-1
	pi, freePadded := p.padInput(sc, input)
	defer freePadded()
	padded, offs, pstr, chanP, batchP := pi.data, pi.offs, pi.strides, pi.chanP, pi.batchP

	// Output rows: every (batch, spatial position but the last).
	ow := p.outSpatial[last]
	rowsPerBatch := p.outSpatialSize / ow
	rows := p.outBatch * rowsPerBatch
	stripsPerRow := (ow + nr - 1) / nr
	k := p.kernelCols
	perFeature := p.outChans / p.channelGroups
	perBatch := p.outChans / p.batchGroups
	mStrips := (p.blockSize + mr - 1) / mr
	mpad := mStrips * mr
	kBlocks := (k + kcBlock - 1) / kcBlock
	pa, freePA := sc.floats(mpad * k)
	defer freePA()
	for oc0 := 0; oc0 < p.outChans; oc0 += p.blockSize {
		for kb := range kBlocks {
			p0 := kb * kcBlock
			p.packKernel(pa[p0*mpad:], kernel, oc0, p.blockSize, p0, min(kcBlock, k-p0))
		}
		groupBase := (oc0/perFeature)*p.chansPerGroup*chanP + (oc0/perBatch)*p.outBatch*batchP
		outBlock := out[oc0*p.outChanStride:]
		// Tasks are runs of output rows, fixed by shape.
		rowsPerTask := max(1, (rows+63)/64)
		tasks := (rows + rowsPerTask - 1) / rowsPerTask
		task := func(t int) {
			var tmp [mr * nr]float32
			pos := make([]int, sp)
			for row := t * rowsPerTask; row < min(rows, (t+1)*rowsPerTask); row++ {
				ob, rs := row/rowsPerBatch, row%rowsPerBatch
				inBase := groupBase + ob*batchP
				outBase := ob * p.outBatchStride
				for s := last - 1; s >= 0; s-- {
					pos[s] = rs % p.outSpatial[s]
					rs /= p.outSpatial[s]
					inBase += pos[s] * p.convStrides[s] * pstr[s]
					outBase += pos[s] * p.outSpatialStrides[s]
				}
				for st := range stripsPerRow {
					x0 := st * nr
					nb := min(nr, ow-x0)
					bBase := padded[inBase+x0:]
					for kb := range kBlocks {
						p0 := kb * kcBlock
						kcb := min(kcBlock, k-p0)
						acc := kb > 0
						pak := pa[p0*mpad:]
						for is := range mStrips {
							i := is * mr
							mb := min(mr, p.blockSize-i)
							as := pak[is*kcb*mr:]
							o := outBase + i*p.outChanStride + x0
							if mb == mr && nb == nr {
								microKernelIndirect(kcb, as, bBase, offs[p0:p0+kcb], outBlock[o:], p.outChanStride, acc)
								continue
							}
							microKernelIndirect(kcb, as, bBase, offs[p0:p0+kcb], tmp[:], nr, false)
							for r := range mb {
								dst := outBlock[o+r*p.outChanStride : o+r*p.outChanStride+nb]
								src := tmp[r*nr : r*nr+nb]
								if acc {
									for q := range dst {
										dst[q] += src[q]
									}
								} else {
									copy(dst, src)
								}
							}
						}
					}
				}
			}
		}
		if parallelWorthIt(2 * p.blockSize * k * rows * ow) {
			parallelFor(tasks, task)
		} else {
			for t := range tasks {
				task(t)
			}
		}
	}
}

// pad copies the input into padded ([batch][channel][spatial…], zero borders and slack).
func (p *convPlan) pad(input, padded []float32, pdims, pstr []int, chanP, batchP int) {
	sp, last := p.spatial, p.spatial-1
	w := p.inDims[last]
	rowsPerChan := 1
	for s := range last {
		rowsPerChan *= p.inDims[s]
	}
	planes := p.inBatch * p.inChans
	forSlices(planes, chanP, func(plane int) {
		b, c := plane/p.inChans, plane%p.inChans
		dst := padded[b*batchP+c*chanP : b*batchP+(c+1)*chanP]
		clear(dst)
		pos := make([]int, sp)
		for r := range rowsPerChan {
			src, d, rem := b*p.inBatchStride+c*p.inChanStride, 0, r
			for s := last - 1; s >= 0; s-- {
				pos[s] = rem % p.inDims[s]
				rem /= p.inDims[s]
				src += pos[s] * p.inStrides[s]
				d += (pos[s] + p.padLo[s]) * pstr[s]
			}
			d += p.padLo[last]
			copy(dst[d:d+w], input[src:src+w])
		}
	})
	clear(padded[p.inBatch*batchP:])
}

// transposed reports whether to run the convolution as Cᵀ = patchesᵀ·kernel: when its output
// positions are few and its contraction long (the kernel gradient of a convolution, whose
// "kernel" is the output gradient), so the big operand is packed along its contiguous axis.
func (p *convPlan) transposed() bool {
	if p.spatial == 0 || p.outBatch*p.outSpatialSize > ncMax || p.kernelCols < 4*kcBlock {
		return false
	}
	for s := range p.spatial {
		if p.padLo[s] < 0 || p.padHi[s] < 0 || p.inDil[s] != 1 {
			return false
		}
	}
	return true
}

// runTransposed computes, per channel block, Cᵀ[(ob, os), oc] = Σ_(c, k) patches[(ob, os), (c, k)]
// · W[(c, k), oc] on the padded input, then writes Cᵀ into the output.
func (p *convPlan) runTransposed(sc scratch, input, kernel, out []float32) {
	sp := p.spatial
	pi, freePadded := p.padInput(sc, input)
	defer freePadded()
	perFeature := p.outChans / p.channelGroups
	perBatch := p.outChans / p.batchGroups
	rows := p.outBatch * p.outSpatialSize
	// Origin of each output position's window in the padded input (without group offsets).
	origin := make([]int, rows)
	outOff := make([]int, rows)
	pos := make([]int, sp)
	for i := range rows {
		ob, os := i/p.outSpatialSize, i%p.outSpatialSize
		o, oo := ob*pi.batchP, ob*p.outBatchStride
		for s := sp - 1; s >= 0; s-- {
			pos[s] = os % p.outSpatial[s]
			os /= p.outSpatial[s]
			o += pos[s] * p.convStrides[s] * pi.strides[s]
			oo += pos[s] * p.outSpatialStrides[s]
		}
		origin[i], outOff[i] = o, oo
	}
	tmp, freeTmp := sc.floats(rows * p.blockSize)
	defer freeTmp()
	for oc0 := 0; oc0 < p.outChans; oc0 += p.blockSize {
		groupBase := (oc0/perFeature)*p.chansPerGroup*pi.chanP + (oc0/perBatch)*p.outBatch*pi.batchP
		op := gemmOp{
			m: rows, n: p.blockSize, k: p.kernelCols,
			packA: func(dst []float32, i0, mc, p0, kc int) {
				gatherStrips(dst, pi.data, func(i int) int { return groupBase + origin[i0+i] }, mc, pi.offs[p0:p0+kc])
			},
			packB: func(dst []float32, p0, kc, j0, nb int) {
				strip := dst[:kc*nr]
				if nb < nr {
					clear(strip)
				}
				offs := p.kernOff[p0 : p0+kc]
				for q := range nb {
					base := (oc0 + j0 + q) * p.kernOutStr
					for r, off := range offs {
						strip[r*nr+q] = kernel[base+off]
					}
				}
			},
			out: outView{data: tmp, rs: p.blockSize, cs: 1},
		}
		op.run(sc)
		for i, o := range outOff {
			row := tmp[i*p.blockSize : (i+1)*p.blockSize]
			for j, v := range row {
				out[o+(oc0+j)*p.outChanStride] = v
			}
		}
	}
}
