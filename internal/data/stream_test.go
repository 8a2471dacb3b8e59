package data

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// countingReader records how many bytes the decoder pulled.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// The readers stream: after one small batch they have consumed at most one
// buffer (64 KiB) beyond it, however large the file.
func TestReadersStream(t *testing.T) {
	const rows, width = 20000, 100 // 8 MB of float32
	big := npyBytes(t, "<f4", []int{rows, width}, make([]float32, rows*width))
	cr := &countingReader{r: bytes.NewReader(big)}
	s, err := newNPYStream("x", io.NopCloser(cr))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(10); err != nil {
		t.Fatal(err)
	}
	if cr.n > 128+10*width*4+1<<16 {
		t.Fatalf(".npy: read %d bytes of %d for 10 rows", cr.n, len(big))
	}

	var csv strings.Builder
	csv.WriteString("a,b\n")
	for i := 0; i < 200000; i++ {
		fmt.Fprintf(&csv, "%d,%d\n", i, i)
	}
	cr = &countingReader{r: strings.NewReader(csv.String())}
	src, err := newCSVSource(io.NopCloser(cr), false, ',')
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTableReader(src)
	if err != nil {
		t.Fatal(err)
	}
	tr.use([]string{"a", "b"})
	if _, n, err := tr.read(context.Background(), 10); err != nil || n != 10 {
		t.Fatalf("read: %d %v", n, err)
	}
	if cr.n > 1<<16 {
		t.Fatalf("CSV: read %d bytes of %d for 10 rows", cr.n, csv.Len())
	}
}
