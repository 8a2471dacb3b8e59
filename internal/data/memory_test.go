package data

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// memFixture is 10 rows of 3 float32 features (row r holds r*10, r*10+1,
// r*10+2) with integer labels r%4, fed to an input x of shape [N,3].
func memFixture(t *testing.T) Spec {
	dir := t.TempDir()
	xs := make([]float32, 30)
	for r := 0; r < 10; r++ {
		for j := 0; j < 3; j++ {
			xs[r*3+j] = float32(r*10 + j)
		}
	}
	ys := make([]int64, 10)
	for r := range ys {
		ys[r] = int64(r % 4)
	}
	return Spec{
		Path:       writeFile(t, dir, "x.npy", npyBytes(t, "<f4", []int{10, 3}, xs)),
		LabelsPath: writeFile(t, dir, "y.npy", npyBytes(t, "<i8", []int{10}, ys)),
		Inputs:     []InputInfo{{Name: "x", DType: Float32, Shape: []int64{-1, 3}}},
		BatchSize:  4,
	}
}

func TestReadAllAndBatch(t *testing.T) {
	ds, err := ReadAll(context.Background(), memFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if ds.Rows != 10 || len(ds.Columns) != 1 || !slices.Equal(ds.Columns[0].RowShape, []int64{3}) || ds.Columns[0].RowBytes() != 12 {
		t.Fatalf("dataset %d rows, columns %+v", ds.Rows, ds.Columns)
	}
	if ds.Labels == nil || ds.Labels.DType != Int64 || !slices.Equal(ds.Labels.Shape, []int64{10}) {
		t.Fatalf("labels %+v", ds.Labels)
	}
	b := ds.Batch([]int{7, 2})
	if got := b.Inputs["x"].Float32s(); !slices.Equal(got, []float32{70, 71, 72, 20, 21, 22}) {
		t.Errorf("features %v", got)
	}
	if got := b.Labels.Int64s(); !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("labels %v", got)
	}
	if b.Rows != 2 || b.Row(0) != 7 || b.Row(1) != 2 || !slices.Equal(b.Inputs["x"].Shape, []int64{2, 3}) {
		t.Errorf("batch rows %d, origin %v, shape %v", b.Rows, b.Origin, b.Inputs["x"].Shape)
	}
	// A batch is a copy: changing it leaves the dataset alone.
	b.Inputs["x"].Data[0] = 0xff
	if ds.Batch([]int{7}).Inputs["x"].Float32s()[0] != 70 {
		t.Error("Batch shares the dataset's bytes")
	}
}

func TestSplitAndShuffleAreSeeded(t *testing.T) {
	ds, err := ReadAll(context.Background(), memFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := ds.Split(0.3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if train.Rows != 7 || val.Rows != 3 {
		t.Fatalf("split %d/%d", train.Rows, val.Rows)
	}
	seen := map[int]bool{}
	for _, d := range []*Dataset{train, val} {
		for i := 0; i < d.Rows; i++ {
			r := d.FileRow(i)
			if seen[r] {
				t.Fatalf("row %d in both parts", r)
			}
			seen[r] = true
			// Features and labels travel with their row.
			b := d.Batch([]int{i})
			if b.Inputs["x"].Float32s()[0] != float32(r*10) || b.Labels.Int64s()[0] != int64(r%4) || b.Row(0) != r {
				t.Fatalf("row %d: %v %v", r, b.Inputs["x"].Float32s(), b.Labels.Int64s())
			}
		}
	}
	train2, _, _ := ds.Split(0.3, 7)
	if !slices.Equal(train.Origin, train2.Origin) {
		t.Error("same seed, different split")
	}
	if train3, _, _ := ds.Split(0.3, 8); slices.Equal(train.Origin, train3.Origin) {
		t.Error("another seed gave the same split")
	}
	for _, bad := range []float64{0, 1, 0.01, 0.99} {
		if _, _, err := ds.Split(bad, 1); err == nil {
			t.Errorf("split %v accepted", bad)
		}
	}

	e0, e0again, e1 := ds.Epoch(4, 3, 0), ds.Epoch(4, 3, 0), ds.Epoch(4, 3, 1)
	if len(e0) != 3 || len(e0[2]) != 2 {
		t.Fatalf("epoch batches %v", e0)
	}
	if !slices.Equal(slices.Concat(e0...), slices.Concat(e0again...)) {
		t.Error("same seed and epoch, different order")
	}
	if slices.Equal(slices.Concat(e0...), slices.Concat(e1...)) {
		t.Error("two epochs visit the rows in the same order")
	}
	all := slices.Sorted(slices.Values(slices.Concat(e1...)))
	if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("epoch does not visit every row once: %v", all)
	}
	if !slices.Equal(Shuffle(10, 3, 1), slices.Concat(e1...)) {
		t.Error("Epoch is not Shuffle cut into batches")
	}
}

func TestDatasetSource(t *testing.T) {
	ds, err := ReadAll(context.Background(), memFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	src := ds.Source(4)
	defer src.Close()
	if src.Rows() != 10 || !src.HasLabels() || src.Inputs()[0].Name != "x" || !slices.Equal(src.Inputs()[0].Shape, []int64{-1, 3}) {
		t.Fatalf("source rows %d inputs %+v", src.Rows(), src.Inputs())
	}
	var xs []float32
	var offsets []int
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, b.Offset)
		xs = append(xs, b.Inputs["x"].Float32s()...)
	}
	if !slices.Equal(offsets, []int{0, 4, 8}) || len(xs) != 30 || xs[29] != 92 {
		t.Errorf("offsets %v, %d values", offsets, len(xs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ds.Source(4).Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// shapeShifter yields two batches whose rows differ in shape.
type shapeShifter struct{ n int }

func (s *shapeShifter) Next(context.Context) (*Batch, error) {
	s.n++
	if s.n > 2 {
		return nil, io.EOF
	}
	t := NewTensor(Float32, []int64{1, int64(s.n)})
	return &Batch{Offset: s.n - 1, Rows: 1, Inputs: map[string]*Tensor{"seq": t}}, nil
}
func (s *shapeShifter) Rows() int64 { return -1 }
func (s *shapeShifter) Inputs() []InputInfo {
	return []InputInfo{{Name: "seq", DType: Float32, Shape: []int64{-1, -1}}}
}
func (s *shapeShifter) HasLabels() bool { return false }
func (s *shapeShifter) Close() error    { return nil }

func TestFromSourceRefusesRaggedRows(t *testing.T) {
	_, err := FromSource(context.Background(), &shapeShifter{})
	if err == nil || !strings.Contains(err.Error(), `input "seq": rows 1.. have shape [2], earlier rows [1]`) {
		t.Fatalf("err = %v", err)
	}
}
