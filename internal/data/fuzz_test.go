package data

import (
	"bytes"
	"context"
	"io"
	"testing"
)

func FuzzNPYHeader(f *testing.F) {
	f.Add(npyBytes(f, "<f4", []int{2, 2}, seq32(4)))
	f.Add(npyBytes(f, "|u1", []int{3}, []uint8{1, 2, 3}))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<f4'}"))
	f.Add([]byte("\x93NUMPY\x01\x00\x04\x00ab\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := newNPYStream("x", io.NopCloser(bytes.NewReader(b)))
		if err != nil {
			return
		}
		for i := 0; i < 4; i++ {
			if _, err := s.read(2); err != nil {
				return
			}
		}
	})
}

func fuzzTable(t *testing.T, src recordSource) {
	tr, err := newTableReader(src)
	if err != nil {
		return
	}
	var names []string
	for _, f := range tr.fields() {
		if f.DType != Invalid {
			names = append(names, f.Name)
		}
	}
	if tr.use(names) != nil {
		return
	}
	for i := 0; i < 8; i++ {
		if _, _, err := tr.read(context.Background(), 3); err != nil {
			return
		}
	}
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("a,b,label\n1,2,0\n3,4,1\n"), false)
	f.Add([]byte("1,2\n,NaN\n\"3\",4e5\n"), true)
	f.Add([]byte("a,a\n1,2\n"), false)
	f.Add([]byte("\ufeffx\n\"unterminated\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, noHeader bool) {
		src, err := newCSVSource(io.NopCloser(bytes.NewReader(b)), noHeader, ',')
		if err != nil {
			return
		}
		fuzzTable(t, src)
	})
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"x": [[1,2],[3,4]], "label": 0}` + "\n" + `{"x": [[5,6],[7,8]], "label": 1}` + "\n"))
	f.Add([]byte(`{"a": null, "b": true}` + "\n" + `{"a": 1}` + "\n"))
	f.Add([]byte(`[1,2]` + "\n"))
	f.Add([]byte(`{"s": "text", "n": [[[[1]]]]}` + "\n" + `{"s": "x", "n": 2} trailing`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzTable(t, newJSONLSource(io.NopCloser(bytes.NewReader(b))))
	})
}
