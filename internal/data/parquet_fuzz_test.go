package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func parquetSeed(t testing.TB) []byte {
	type row struct {
		A float32   `parquet:"a"`
		L []float64 `parquet:"l,list"`
		Y int64     `parquet:"y"`
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []row{{1, []float64{1, 2}, 0}, {2, []float64{3, 4}, 1}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzParquet feeds corrupt files through parquet-go and our row adapter:
// whatever the bytes, the result is an error, never a panic.
func FuzzParquet(f *testing.F) {
	f.Add(parquetSeed(f))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := newParquetSource(p)
		if err != nil {
			return
		}
		fuzzTable(t, src)
	})
}

func TestParquetListColumn(t *testing.T) {
	p := writeFile(t, t.TempDir(), "l.parquet", parquetSeed(t))
	xs, ys, _ := readAll(t, Spec{Path: p, Columns: []string{"a", "l.list.element"}, LabelColumn: "y",
		Inputs: []InputInfo{{Name: "x", DType: Float32, Shape: []int64{-1, 3}}}})
	if !equal(xs, []float64{1, 1, 2, 2, 3, 4}) || !equal(ys, []float64{0, 1}) {
		t.Fatalf("xs %v ys %v", xs, ys)
	}
}
