package quant

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// isFloatType reports whether dt is a float type whose weights this package
// quantizes: FLOAT, and FLOAT16/BFLOAT16 sources (read as float32).
func isFloatType(dt onnx.DataType) bool {
	return dt == onnx.Float || dt == onnx.Float16 || dt == onnx.BFloat16
}

// floats returns the values of a FLOAT, FLOAT16 or BFLOAT16 tensor as
// float32. 16-bit external tensors are read with pread into a reused buffer
// and widened into another, so like float32s the slice is only valid until
// the next call.
func (tr *tensorReader) floats(t *onnxpb.TensorProto) ([]float32, error) {
	dt := onnx.TypeOf(t)
	if dt == onnx.Float {
		return tr.float32s(t)
	}
	if dt != onnx.Float16 && dt != onnx.BFloat16 {
		return nil, fmt.Errorf("tensor %q is %v, not a float type", t.GetName(), dt)
	}
	n, err := onnx.NumElements(t)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if onnx.IsExternal(t) {
		e, err := onnx.ExternalDataOf(t)
		if err != nil {
			return nil, err
		}
		if e.Length >= 0 && e.Length != 2*n {
			return nil, fmt.Errorf("tensor %q: external length %d does not match %d %v values", t.GetName(), e.Length, n, dt)
		}
		f, err := tr.open(t, e)
		if err != nil {
			return nil, err
		}
		if int64(cap(tr.half)) < 2*n {
			tr.half = make([]byte, 2*n)
		}
		raw = tr.half[:2*n]
		if err := readAtParallel(f, e.Offset, raw); err != nil {
			return nil, fmt.Errorf("tensor %q: read %s at %d: %w (the data file is truncated or does not match the model)", t.GetName(), e.Location, e.Offset, err)
		}
	} else if raw, err = onnx.RawBytes(tr.m, t); err != nil {
		return nil, err
	}
	if int64(len(raw)) != 2*n {
		return nil, fmt.Errorf("tensor %q has %d bytes for %d %v values", t.GetName(), len(raw), n, dt)
	}
	if int64(cap(tr.buf)) < n {
		tr.buf = make([]float32, n)
	}
	vals := tr.buf[:n]
	tr.last = nil
	widen := onnx.Float16ToFloat32
	if dt == onnx.BFloat16 {
		widen = onnx.BFloat16ToFloat32
	}
	parallelFor(int(n), func(a, b int) {
		for i := a; i < b; i++ {
			vals[i] = widen(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	})
	return vals, nil
}

// readAtParallel fills buf from f at off, readChunk bytes per call, the
// calls spread over the cores.
func readAtParallel(f *os.File, off int64, buf []byte) error {
	chunks := (len(buf) + readChunk - 1) / readChunk
	errs := make([]error, chunks)
	parallelRows(chunks, len(buf), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			a := c * readChunk
			_, errs[c] = f.ReadAt(buf[a:min(a+readChunk, len(buf))], off+int64(a))
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
