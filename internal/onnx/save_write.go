package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// writeExternal writes the data files and points each external tensor at
// its new location.
func (s *saver) writeExternal() error {
	var (
		f     *os.File
		off   int64
		index int
	)
	finish := func() error {
		if f == nil {
			return nil
		}
		err := f.Close()
		f = nil
		return err
	}
	open := func() error {
		if err := finish(); err != nil {
			return err
		}
		loc := s.opts.Location
		if index > 0 {
			loc += "." + strconv.Itoa(index)
		}
		index++
		final := filepath.Join(s.dir, filepath.FromSlash(loc))
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		if err := safefile.Check(final, true); err != nil {
			return err
		}
		tmp, err := safefile.Temp(final)
		if err != nil {
			return err
		}
		s.temps = append(s.temps, tmp.Name())
		s.renames = append(s.renames, safefile.Rename{Temp: tmp.Name(), Target: final})
		f, off = tmp, 0
		s.curLocation = loc
		return nil
	}
	for _, st := range s.tensors {
		if !st.external {
			continue
		}
		if err := s.ctx.Err(); err != nil {
			_ = finish() // the cancellation is the error to report
			return err
		}
		pad := int64(0)
		if st.size >= alignMin && off%externalAlign != 0 {
			pad = externalAlign - off%externalAlign
		}
		if f == nil || (s.opts.MaxFileBytes > 0 && off > 0 && off+pad+st.size > s.opts.MaxFileBytes) {
			if err := open(); err != nil {
				return err
			}
			pad = 0
		}
		if pad > 0 {
			if _, err := f.Write(make([]byte, pad)); err != nil {
				_ = finish() // the write error is the one to report
				return err
			}
			off += pad
		}
		if err := s.writeTensor(f, st); err != nil {
			_ = finish() // the write error is the one to report
			return fmt.Errorf("tensor %q: %w", st.t.GetName(), err)
		}
		setExternalData(st.t, ExternalData{Location: s.curLocation, Offset: off, Length: st.size})
		off += st.size
	}
	return finish()
}

func (s *saver) writeTensor(dst *os.File, st *tensorState) error {
	if !st.srcExternal {
		// Inline source: the original fields were stripped for sizing.
		tmp := &onnxpb.TensorProto{Name: st.t.Name, Dims: st.t.Dims, DataType: st.t.DataType,
			RawData: st.raw, FloatData: st.f32, Int32Data: st.i32, Int64Data: st.i64, DoubleData: st.f64, Uint64Data: st.u64}
		b, err := RawBytes(nil, tmp)
		if err != nil {
			return err
		}
		_, err = dst.Write(b)
		return err
	}
	src, ok := s.srcFiles[st.srcPath]
	if !ok {
		var err error
		if src, err = os.Open(st.srcPath); err != nil {
			return err
		}
		s.srcFiles[st.srcPath] = src
	}
	st2, err := src.Stat()
	if err != nil {
		return err
	}
	if st.srcData.Offset+st.size > st2.Size() {
		return fmt.Errorf("external data %s has %d bytes, the tensor needs %d at offset %d: the data file is truncated or does not match the model", st.srcData.Location, st2.Size(), st.size, st.srcData.Offset)
	}
	if _, err := src.Seek(st.srcData.Offset, io.SeekStart); err != nil {
		return err
	}
	for left := st.size; left > 0; {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		n := min(left, copyChunk)
		// *os.File.ReadFrom with a LimitedReader over *os.File uses
		// copy_file_range/sendfile on Linux: bytes never enter user space.
		w, err := dst.ReadFrom(&io.LimitedReader{R: src, N: n})
		if err != nil {
			return err
		}
		if w != n {
			return errors.New("external data file ended early")
		}
		left -= n
	}
	return nil
}

func (s *saver) writeModel(absPath string) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.m.Proto)
	if err != nil {
		return err
	}
	tmp, err := safefile.Temp(absPath)
	if err != nil {
		return err
	}
	s.temps = append(s.temps, tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	s.renames = append(s.renames, safefile.Rename{Temp: tmp.Name(), Target: absPath})
	if s.opts.beforeCommit != nil {
		s.opts.beforeCommit()
	}
	// Data files first, model last: a reader that sees the new model sees its data too. An
	// interrupt that came while the files were written wins here: nothing is renamed.
	if err := safefile.Commit(s.ctx, s.renames...); err != nil {
		return err
	}
	s.temps = nil
	return nil
}
