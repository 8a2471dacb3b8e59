package data

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func readAll(t *testing.T, spec Spec) ([]float64, []float64, Source) {
	t.Helper()
	src, err := Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var xs, ys []float64
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range src.Inputs() {
			xs = append(xs, b.Inputs[in.Name].Float64s()...)
		}
		if b.Labels != nil {
			ys = append(ys, b.Labels.Float64s()...)
		}
	}
	return xs, ys, src
}

func openErr(t *testing.T, spec Spec) error {
	t.Helper()
	src, err := Open(context.Background(), spec)
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		_, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

var in22 = []InputInfo{{Name: "x", DType: Float32, Shape: []int64{-1, 2, 2}}}

func TestTableFormatsAgree(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "d.csv", []byte("a,b,label,c,d\n1,2,0,3,4\n5,6,1,7,8\n9,10,2,11,12\n"))
	jsonPath := writeFile(t, dir, "d.jsonl", []byte(`{"x": [[1,2],[3,4]], "label": 0}`+"\n\n"+
		`{"x": [[5,6],[7,8]], "label": 1}`+"\n"+`{"label": 2, "x": [[9,10],[11,12]]}`+"\n"))
	type row struct {
		A     float32 `parquet:"a"`
		B     float64 `parquet:"b"`
		Label int64   `parquet:"label"`
		C     int32   `parquet:"c"`
		D     float64 `parquet:"d"`
	}
	pqPath := filepath.Join(dir, "d.parquet")
	f, _ := os.Create(pqPath)
	if err := parquet.Write(f, []row{{1, 2, 0, 3, 4}, {5, 6, 1, 7, 8}, {9, 10, 2, 11, 12}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, p := range []string{csvPath, jsonPath, pqPath} {
		xs, ys, _ := readAll(t, Spec{Path: p, LabelColumn: "label", BatchSize: 2, Inputs: in22})
		if !equal(xs, want) || !equal(ys, []float64{0, 1, 2}) {
			t.Errorf("%s: xs %v ys %v", filepath.Base(p), xs, ys)
		}
	}
	// Column selection reorders; preprocessing applies to inputs only.
	xs, _, _ := readAll(t, Spec{Path: csvPath, Columns: []string{"d", "c", "b", "a"}, Inputs: in22,
		Preprocess: Preprocess{Scale: 2, Mean: []float64{1}, Std: []float64{2}}})
	if !equal(xs[:4], []float64{3.5, 2.5, 1.5, 0.5}) {
		t.Errorf("selected+preprocessed %v", xs[:4])
	}
}

func TestRawModeWithoutModel(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "d.csv", []byte("f1,f2,y\n1,,0\n3,4,1\n"))
	src, err := Open(context.Background(), Spec{Path: p, LabelColumn: "y", AllowNaN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ins := src.Inputs()
	if len(ins) != 2 || ins[0].Name != "f1" || ins[1].DType != Float64 {
		t.Fatalf("inputs %+v", ins)
	}
	b, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := b.Inputs["f2"].Float64s(); !math.IsNaN(v[0]) || v[1] != 4 {
		t.Fatalf("f2 %v", v)
	}
}

func TestNPZMatchesInputsByName(t *testing.T) {
	dir := t.TempDir()
	p := writeNPZ(t, dir, "d.npz", map[string][]byte{
		"a": npyBytes(t, "<f4", []int{3, 2}, seq32(6)),
		"b": npyBytes(t, "|u1", []int{3}, []uint8{7, 8, 9}),
		"y": npyBytes(t, "<i4", []int{3}, []int32{1, 0, 1}),
	})
	src, err := Open(context.Background(), Spec{Path: p, LabelColumn: "y", BatchSize: 8, Inputs: []InputInfo{
		{Name: "b", DType: Int64, Shape: []int64{-1}}, {Name: "a", DType: Float32, Shape: []int64{-1, 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	b, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Inputs["b"].Int64s(); got[2] != 9 || b.Inputs["b"].DType != Int64 {
		t.Fatalf("b %v", got)
	}
	if got := b.Labels.Int64s(); got[0] != 1 || b.Labels.DType != Int64 {
		t.Fatalf("labels %v", got)
	}
	if _, err := src.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("err %v", err)
	}
}

func TestMeanStdPerChannel(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.npy", npyBytes(t, "|u1", []int{1, 2, 2}, []uint8{10, 20, 30, 40}))
	xs, _, _ := readAll(t, Spec{Path: p, Inputs: []InputInfo{{Name: "x", DType: Float32, Shape: []int64{1, 2, 2}}},
		Preprocess: Preprocess{Mean: []float64{10, 30}, Std: []float64{10, 5}}})
	if !equal(xs, []float64{0, 1, 0, 2}) {
		t.Fatalf("channels-first %v", xs)
	}
	xs, _, _ = readAll(t, Spec{Path: p, Inputs: []InputInfo{{Name: "x", DType: Float32, Shape: []int64{1, 2, 2}}},
		Preprocess: Preprocess{Mean: []float64{10, 20}, Std: []float64{1, 2}, ChannelsLast: true}})
	if !equal(xs, []float64{0, 0, 20, 10}) {
		t.Fatalf("channels-last %v", xs)
	}
}

func TestBadInputMessages(t *testing.T) {
	dir := t.TempDir()
	x := writeFile(t, dir, "x.npy", npyBytes(t, "<f4", []int{3, 4}, []float32{1, 2, 3, 4, 5, float32(math.NaN()), 7, 8, 9, 10, 11, 12}))
	y2 := writeFile(t, dir, "y2.npy", npyBytes(t, "<i8", []int{2}, []int64{0, 1}))
	y3 := writeFile(t, dir, "y3.npy", npyBytes(t, "<i8", []int{3}, []int64{0, 1, 0}))
	empty := writeFile(t, dir, "e.npy", npyBytes(t, "<f4", []int{0, 4}, []float32{}))
	csvShort := writeFile(t, dir, "s.csv", []byte("a,b\n1,2\n3,x\n"))
	yCSV := writeFile(t, dir, "y.csv", []byte("id,label\n1,0\n"))
	flat := []InputInfo{{Name: "input", DType: Float32, Shape: []int64{-1, 4}}}
	cases := []struct {
		name string
		spec Spec
		want []string
	}{
		{"count mismatch", Spec{Path: x, LabelsPath: y2, Inputs: flat, AllowNaN: true}, []string{"3 rows", "has 2", "one to one"}},
		{"nan", Spec{Path: x, LabelsPath: y3, Inputs: flat}, []string{`input "input"`, "row 1", "NaN", "--allow-nan"}},
		{"shape", Spec{Path: x, Inputs: []InputInfo{{Name: "input", DType: Float32, Shape: []int64{-1, 1, 28, 28}}}}, []string{`input "input" expects shape [?,1,28,28]`, "[4]"}},
		{"needs reshape", Spec{Path: x, AllowNaN: true, Inputs: []InputInfo{{Name: "input", DType: Float32, Shape: []int64{-1, 2, 2}}}}, []string{"--reshape"}},
		{"empty", Spec{Path: empty, Inputs: flat}, []string{"no rows"}},
		{"not numeric", Spec{Path: csvShort, Inputs: []InputInfo{{Name: "i", DType: Float32, Shape: []int64{-1, 2}}}}, []string{"CSV line 3", `column "b"`, `"x" is not a number`}},
		{"label column", Spec{Path: x, LabelsPath: yCSV, Inputs: flat}, []string{"several columns", "--label-column"}},
		{"missing label", Spec{Path: csvShort, LabelColumn: "y"}, []string{`label column "y" not found`, "a, b"}},
		{"unknown ext", Spec{Path: filepath.Join(dir, "x.bin")}, []string{"cannot tell the format"}},
		{"multi input", Spec{Path: x, Inputs: []InputInfo{{Name: "p", Shape: []int64{-1}}, {Name: "q", Shape: []int64{-1}}}}, []string{`model input "p"`, "--input-field"}},
	}
	for _, c := range cases {
		err := openErr(t, c.spec)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, err, w)
			}
		}
	}
	// With --reshape the same data fits.
	if err := openErr(t, Spec{Path: x, AllowNaN: true, Preprocess: Preprocess{Reshape: true}, Inputs: []InputInfo{{Name: "input", DType: Float32, Shape: []int64{-1, 2, 2}}}}); err != nil {
		t.Errorf("reshape: %v", err)
	}
}

func TestLabelsShorterThanStreamedData(t *testing.T) {
	dir := t.TempDir()
	x := writeFile(t, dir, "x.csv", []byte("a\n1\n2\n3\n"))
	y := writeFile(t, dir, "y.jsonl", []byte(`{"label":1}`+"\n"+`{"label":0}`+"\n"))
	err := openErr(t, Spec{Path: x, LabelsPath: y, BatchSize: 2})
	if err == nil || !strings.Contains(err.Error(), "fewer rows") {
		t.Fatalf("err = %v", err)
	}
	y4 := writeFile(t, dir, "y4.jsonl", []byte(strings.Repeat(`{"label":1}`+"\n", 4)))
	err = openErr(t, Spec{Path: x, LabelsPath: y4, BatchSize: 2})
	if err == nil || !strings.Contains(err.Error(), "more rows") {
		t.Fatalf("err = %v", err)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	x := writeFile(t, dir, "x.npy", npyBytes(t, "<f4", []int{3, 4}, seq32(12)))
	src, err := Open(context.Background(), Spec{Path: x})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestLimitAndStaticBatch(t *testing.T) {
	dir := t.TempDir()
	x := writeFile(t, dir, "x.npy", npyBytes(t, "<f4", []int{10, 2}, seq32(20)))
	src, err := Open(context.Background(), Spec{Path: x, Limit: 3, BatchSize: 64, Inputs: []InputInfo{{Name: "i", DType: Float32, Shape: []int64{1, 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Rows != 1 {
			t.Fatalf("static batch 1 gave %d rows", b.Rows)
		}
		n++
	}
	if n != 3 || src.Rows() != 3 {
		t.Fatalf("batches %d rows %d", n, src.Rows())
	}
}

func TestEmptyTableSaysNoRows(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "e.csv", []byte("a,b,label\n"))
	err := openErr(t, Spec{Path: p, LabelColumn: "label", Inputs: []InputInfo{{Name: "x", DType: Float32, Shape: []int64{-1, 2}}}})
	if err == nil || !strings.Contains(err.Error(), "e.csv contains no rows") {
		t.Fatalf("err = %v", err)
	}
}

func TestGzipAndTSVAndNoHeader(t *testing.T) {
	dir := t.TempDir()
	var buf strings.Builder
	zw := gzip.NewWriter(&gzBuf{&buf})
	zw.Write([]byte(`{"x":[1,2],"y":1}` + "\n" + `{"x":[3,4],"y":0}` + "\n"))
	zw.Close()
	gz := writeFile(t, dir, "d.jsonl.gz", []byte(buf.String()))
	in := []InputInfo{{Name: "x", DType: Float32, Shape: []int64{-1, 2}}}
	xs, ys, _ := readAll(t, Spec{Path: gz, LabelColumn: "y", Inputs: in})
	if !equal(xs, []float64{1, 2, 3, 4}) || !equal(ys, []float64{1, 0}) {
		t.Fatalf("gzip jsonl: %v %v", xs, ys)
	}
	tsv := writeFile(t, dir, "d.tsv", []byte("a\tb\ty\n1\t2\t1\n"))
	xs, _, _ = readAll(t, Spec{Path: tsv, LabelColumn: "y", Inputs: in})
	if !equal(xs, []float64{1, 2}) {
		t.Fatalf("tsv: %v", xs)
	}
	nh := writeFile(t, dir, "n.csv", []byte("1,2,0\n3,4,1\n"))
	xs, ys, _ = readAll(t, Spec{Path: nh, NoHeader: true, LabelColumn: "2", Inputs: in})
	if !equal(xs, []float64{1, 2, 3, 4}) || !equal(ys, []float64{0, 1}) {
		t.Fatalf("no header: %v %v", xs, ys)
	}
}

type gzBuf struct{ b *strings.Builder }

func (g *gzBuf) Write(p []byte) (int, error) { return g.b.Write(p) }
