package data

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sbinet/npyio/npy"
)

func TestReadNPYHeaderFromNpyio(t *testing.T) {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	h, err := ReadNPYHeader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if h.DType != Int64 || len(h.Shape) != 1 || h.Shape[0] != 3 || h.Fortran {
		t.Fatalf("header = %+v", h)
	}
	if buf.Len() != 24 {
		t.Fatalf("reader left %d data bytes, want 24", buf.Len())
	}
}

func TestParseNPYDict(t *testing.T) {
	good := map[string][]int64{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (10000, 1, 28, 28), }   \n": {10000, 1, 28, 28},
		"{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }":                    {5},
		"{'shape': (2L, 3L), 'descr': '>i8', 'fortran_order': True}":                   {2, 3},
		"{'descr': '<f8', 'fortran_order': False, 'shape': (), }":                      {},
	}
	for in, want := range good {
		h, err := parseNPYDict(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if FormatShape(h.Shape) != FormatShape(want) {
			t.Errorf("%q: shape %v, want %v", in, h.Shape, want)
		}
	}
	bad := map[string]string{
		"":                 "expected '{'",
		"{'descr': '<f4'}": "all required",
		"{'descr': [('a','<f4')], 'fortran_order': False, 'shape': (1,)}":               "structured",
		"{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}":                       "unsupported .npy dtype",
		"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}":                       "True or False",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}":                      "tuple",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999)}": "too large",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}":               "unknown key",
	}
	for in, want := range bad {
		if _, err := parseNPYDict(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestNPYStreamTruncated(t *testing.T) {
	b := npyBytes(t, "<f4", []int{4, 2}, seq32(8))
	s, err := newNPYStream("x", io.NopCloser(bytes.NewReader(b[:len(b)-5])))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(2); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want truncated", err)
	}
}

func TestNPYBigEndian(t *testing.T) {
	hdr := npyBytes(t, ">i4", []int{2}, []int32{0, 0})
	raw := hdr[:len(hdr)-8]
	raw = append(raw, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe) // 258, -2 big-endian
	s, err := newNPYStream("x", io.NopCloser(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	tt, err := s.read(10)
	if err != nil {
		t.Fatal(err)
	}
	if got := tt.Int64s(); got[0] != 258 || got[1] != -2 {
		t.Fatalf("got %v", got)
	}
	if _, err := s.read(1); !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
}

func TestOpenNPYBatchesAndLabels(t *testing.T) {
	dir := t.TempDir()
	x := writeFile(t, dir, "x.npy", npyBytes(t, "<f4", []int{5, 1, 2, 2}, seq32(20)))
	y := writeFile(t, dir, "y.npy", npyBytes(t, "<i8", []int{5}, []int64{0, 1, 2, 1, 0}))
	src, err := Open(context.Background(), Spec{Path: x, LabelsPath: y, BatchSize: 2,
		Inputs: []InputInfo{{Name: "input", DType: Float32, Shape: []int64{-1, 1, 2, 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Rows() != 5 || !src.HasLabels() {
		t.Fatalf("rows %d labels %v", src.Rows(), src.HasLabels())
	}
	var rows []int
	var labels []int64
	var first []float32
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b.Inputs["input"].Float32s()
			if FormatShape(b.Inputs["input"].Shape) != "[2,1,2,2]" {
				t.Fatalf("shape %v", b.Inputs["input"].Shape)
			}
		}
		rows = append(rows, b.Rows)
		labels = append(labels, b.Labels.Int64s()...)
	}
	if len(rows) != 3 || rows[2] != 1 || len(labels) != 5 || labels[2] != 2 {
		t.Fatalf("rows %v labels %v", rows, labels)
	}
	if first[7] != 7 {
		t.Fatalf("first batch %v", first)
	}
}
