package data

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxNPYHeader bounds the header we are willing to read; numpy writes a few
// hundred bytes, so anything near this limit is a corrupt or hostile file.
const maxNPYHeader = 1 << 20

// NPYHeader is the decoded header of a .npy array.
type NPYHeader struct {
	DType     DType
	BigEndian bool
	Fortran   bool
	Shape     []int64
}

// ReadNPYHeader reads the magic, version and header dictionary of a .npy
// stream and leaves r positioned at the first data byte.
//
// We parse the dictionary ourselves instead of using sbinet/npyio's reader:
// npyio slices the header by searched offsets and panics on malformed input,
// and it cannot stream rows. npyio is still used to write fixtures in tests.
func ReadNPYHeader(r io.Reader) (NPYHeader, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return NPYHeader{}, fmt.Errorf("not a .npy file: %w", noEOF(err))
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return NPYHeader{}, errors.New("not a .npy file: missing \\x93NUMPY magic (save arrays with numpy.save)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return NPYHeader{}, fmt.Errorf("truncated .npy header: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return NPYHeader{}, fmt.Errorf("truncated .npy header: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return NPYHeader{}, fmt.Errorf("unsupported .npy format version %d.%d (want 1.0, 2.0 or 3.0)", pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return NPYHeader{}, fmt.Errorf(".npy header length %d exceeds %d bytes: the file is corrupt", hlen, maxNPYHeader)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return NPYHeader{}, fmt.Errorf("truncated .npy header: %w", noEOF(err))
	}
	return parseNPYDict(string(buf))
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseNPYDict parses the Python literal {'descr': '<f4', 'fortran_order':
// False, 'shape': (3, 4), } that numpy writes.
func parseNPYDict(s string) (NPYHeader, error) {
	p := &pyLit{s: strings.TrimRight(s, " \n\x00")}
	bad := func(what string) (NPYHeader, error) {
		return NPYHeader{}, fmt.Errorf("malformed .npy header %q: %s", truncate(s, 120), what)
	}
	if !p.eat('{') {
		return bad("expected '{'")
	}
	var h NPYHeader
	var seen int
	for {
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return bad("expected 'key': value")
		}
		switch key {
		case "descr":
			d, ok := p.str()
			if !ok {
				return bad("descr must be a string such as '<f4' (structured dtypes are not supported)")
			}
			dt, be, err := parseDescr(d)
			if err != nil {
				return NPYHeader{}, err
			}
			h.DType, h.BigEndian = dt, be
			seen |= 1
		case "fortran_order":
			switch {
			case p.word("True"):
				h.Fortran = true
			case p.word("False"):
			default:
				return bad("fortran_order must be True or False")
			}
			seen |= 2
		case "shape":
			shape, ok := p.tuple()
			if !ok {
				return bad("shape must be a tuple of non-negative integers")
			}
			h.Shape = shape
			seen |= 4
		default:
			return bad("unknown key " + strconv.Quote(key))
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return bad("expected ',' or '}'")
			}
			break
		}
	}
	if seen != 7 {
		return bad("descr, fortran_order and shape are all required")
	}
	if p.skip(); p.i != len(p.s) {
		return bad("trailing bytes after the dictionary")
	}
	n := int64(h.DType.Size())
	for _, d := range h.Shape {
		if d != 0 && n > math.MaxInt64/4/d {
			return bad("shape is too large")
		}
		n *= d
	}
	return h, nil
}

func parseDescr(d string) (DType, bool, error) {
	if len(d) < 2 {
		return Invalid, false, fmt.Errorf("unsupported .npy dtype %q", d)
	}
	be := false
	switch d[0] {
	case '<', '=', '|':
	case '>':
		be = true
	default:
		return Invalid, false, fmt.Errorf("unsupported .npy dtype %q", d)
	}
	dt, err := ParseDType(d[1:])
	if err != nil {
		return Invalid, false, fmt.Errorf("unsupported .npy dtype %q: convert the array with astype(numpy.float32) or another numeric type", d)
	}
	return dt, be, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// pyLit is a tiny scanner for the subset of Python literals in .npy headers.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pyLit) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) word(w string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyLit) str() (string, bool) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

func (p *pyLit) tuple() ([]int64, bool) {
	if !p.eat('(') {
		return nil, false
	}
	shape := []int64{}
	for {
		if p.eat(')') {
			return shape, true
		}
		p.skip()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i || j-p.i > 18 {
			return nil, false
		}
		v, _ := strconv.ParseInt(p.s[p.i:j], 10, 64)
		shape = append(shape, v)
		p.i = j
		// numpy writes "(3,)" for 1-D and may write "L" suffixes from Python 2.
		p.eat('L')
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, false
			}
			return shape, true
		}
	}
}

// npyStream reads rows of one C-ordered .npy array from a stream.
type npyStream struct {
	name     string
	hdr      NPYHeader
	r        *bufio.Reader
	rowBytes int
	left     int64 // rows not yet read
	closer   io.Closer
}

func newNPYStream(name string, rc io.ReadCloser) (*npyStream, error) {
	br := bufio.NewReaderSize(rc, 1<<16)
	h, err := ReadNPYHeader(br)
	if err != nil {
		rc.Close()
		return nil, err
	}
	if len(h.Shape) == 0 {
		rc.Close()
		return nil, fmt.Errorf("array %q is a scalar; it needs a first (row) dimension", name)
	}
	if h.Fortran && len(h.Shape) > 1 {
		rc.Close()
		return nil, fmt.Errorf("array %q is stored in Fortran order, which cannot be streamed by rows; save it with numpy.ascontiguousarray", name)
	}
	rowElems := numElems(h.Shape[1:])
	return &npyStream{name: name, hdr: h, r: br, rowBytes: int(rowElems) * h.DType.Size(), left: h.Shape[0], closer: rc}, nil
}

func (s *npyStream) field() field {
	return field{Name: s.name, DType: s.hdr.DType, RowShape: append([]int64(nil), s.hdr.Shape[1:]...)}
}

// read returns up to n rows, or io.EOF when the array is exhausted.
func (s *npyStream) read(n int) (*Tensor, error) {
	if s.left == 0 {
		return nil, io.EOF
	}
	if int64(n) > s.left {
		n = int(s.left)
	}
	t := &Tensor{DType: s.hdr.DType, Shape: append([]int64{int64(n)}, s.hdr.Shape[1:]...), Data: make([]byte, n*s.rowBytes)}
	got, err := io.ReadFull(s.r, t.Data)
	if err != nil {
		done := s.hdr.Shape[0] - s.left + int64(got/max(s.rowBytes, 1))
		return nil, fmt.Errorf("array %q is truncated: the header promises %d rows but the data ends after row %d", s.name, s.hdr.Shape[0], done)
	}
	s.left -= int64(n)
	if s.hdr.BigEndian {
		swapBytes(t.Data, s.hdr.DType.Size())
	}
	return t, nil
}

func (s *npyStream) close() error { return s.closer.Close() }

func swapBytes(b []byte, size int) {
	if size < 2 {
		return
	}
	for i := 0; i+size <= len(b); i += size {
		for j, k := i, i+size-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// npyReader is the reader for one .npy file: a single field.
type npyReader struct{ s *npyStream }

func (r *npyReader) fields() []field { return []field{r.s.field()} }
func (r *npyReader) rows() int64     { return r.s.hdr.Shape[0] }
func (r *npyReader) use([]string) error {
	return nil
}
func (r *npyReader) read(ctx context.Context, n int) (map[string]*Tensor, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	t, err := r.s.read(n)
	if err != nil {
		return nil, 0, err
	}
	return map[string]*Tensor{r.s.name: t}, t.Rows(), nil
}
func (r *npyReader) close() error { return r.s.close() }
