package data

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// npzReader streams named arrays from a .npz archive in lockstep. Each used
// member is opened as its own decompressing stream, so memory stays bounded
// by the batch size whatever the archive size.
type npzReader struct {
	zr      *zip.ReadCloser
	members map[string]*zip.File
	headers map[string]NPYHeader
	names   []string
	streams map[string]*npyStream
	nrows   int64
}

func openNPZ(path string) (*npzReader, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("open %s as .npz: %w", path, err)
	}
	r := &npzReader{zr: zr, members: map[string]*zip.File{}, headers: map[string]NPYHeader{}, nrows: -1}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			zr.Close()
			return nil, fmt.Errorf("%s: array %q: %w", path, name, err)
		}
		h, err := ReadNPYHeader(rc)
		rc.Close()
		if err != nil {
			zr.Close()
			return nil, fmt.Errorf("%s: array %q: %w", path, name, err)
		}
		if len(h.Shape) == 0 {
			continue // scalars (metadata) cannot be rows
		}
		r.members[name] = f
		r.headers[name] = h
		r.names = append(r.names, name)
	}
	if len(r.names) == 0 {
		zr.Close()
		return nil, fmt.Errorf("%s contains no arrays with a row dimension; write it with numpy.savez", path)
	}
	sort.Strings(r.names)
	return r, nil
}

func (r *npzReader) fields() []field {
	out := make([]field, 0, len(r.names))
	for _, n := range r.names {
		h := r.headers[n]
		out = append(out, field{Name: n, DType: h.DType, RowShape: append([]int64(nil), h.Shape[1:]...)})
	}
	return out
}

func (r *npzReader) rows() int64 { return r.nrows }

func (r *npzReader) use(names []string) error {
	r.streams = map[string]*npyStream{}
	for _, n := range names {
		f, ok := r.members[n]
		if !ok {
			return fmt.Errorf("array %q not found in the archive (it has %s)", n, strings.Join(r.names, ", "))
		}
		rows := r.headers[n].Shape[0]
		if r.nrows >= 0 && rows != r.nrows {
			return fmt.Errorf("arrays in the archive have different row counts (%q has %d, another used array has %d)", n, rows, r.nrows)
		}
		r.nrows = rows
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("array %q: %w", n, err)
		}
		s, err := newNPYStream(n, rc)
		if err != nil {
			return err
		}
		r.streams[n] = s
	}
	return nil
}

func (r *npzReader) read(ctx context.Context, n int) (map[string]*Tensor, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	out := map[string]*Tensor{}
	rows := -1
	for name, s := range r.streams {
		t, err := s.read(n)
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, err
		}
		out[name] = t
		rows = t.Rows()
	}
	if rows < 0 {
		return nil, 0, io.EOF
	}
	return out, rows, nil
}

func (r *npzReader) close() error {
	for _, s := range r.streams {
		s.close()
	}
	return r.zr.Close()
}
