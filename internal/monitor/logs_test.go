package monitor

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func TestScanLogsSkipsAndCountsMalformedLines(t *testing.T) {
	dir := t.TempDir()
	m := fakeModel{weights: [][]float64{{1, 0}, {0, 1}}}
	rows := gaussianRows(rand.New(rand.NewPCG(1, 1)), 30, []float64{0, 0}, []float64{1, 1}, t0, time.Minute, "r")
	bad := []string{
		`{not json`,
		`{"ts":"2026-11-28T10:00:00Z","model":"tab","inputs":[]}`,      // no request_id
		`{"ts":"2026-11-28T10:00:00Z","request_id":"x","model":"tab"}`, // no inputs
		`{"ts":"2026-11-28T10:00:00Z","request_id":"y","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1]}]}`,
		`{"ts":"2026-11-28T10:00:00Z","request_id":"z","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}`,
		`{"ts":"2026-11-28T10:00:00Z","request_id":"w","model":"tab","inputs":[{"name":"x","datatype":"NOPE","shape":[1,2],"data":[1,2]}]}`,
		`{"ts":"2026-11-28T10:00:00Z","request_id":"v","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[-1,2],"data":[1,2]}]}`,
		`{"ts":"2026-11-28T10:00:00Z","request_id":"n","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":["NaN",1]}]}`,
		// Serve writes non-finite outputs as strings; the record stays usable.
		`{"ts":"2026-11-28T10:00:00Z","request_id":"o","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[0,1]}],"outputs":[{"name":"logits","datatype":"FP32","shape":[1,2],"data":["NaN","-Infinity"]}]}`,
		``, // blank lines are not records and not errors
	}
	writeLogs(t, dir, m, rows, 10, bad...)
	// Files that are not payload logs are ignored; a corrupt .gz is counted, not fatal.
	os.WriteFile(filepath.Join(dir, "tab", "README.txt"), []byte("hi"), 0o644)
	os.WriteFile(filepath.Join(dir, "tab", "broken.jsonl.gz"), []byte("not gzip"), 0o644)

	loc, err := OpenLocation(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	var stats LogStats
	b := &recordBuilder{dict: NewDictionary()}
	if err := ScanLogs(context.Background(), loc, &stats, b.add); err != nil {
		t.Fatal(err)
	}
	if got := b.frame.Rows(); got != 31 {
		t.Errorf("rows = %d, want 31", got)
	}
	if stats.Files != 4 || stats.Skipped != 9 || stats.Records != 31 {
		t.Errorf("stats = %+v, want 4 files, 31 records, 9 skipped (8 bad lines + 1 bad gzip)", stats)
	}
	if len(stats.Examples) != maxExamples || !strings.Contains(strings.Join(stats.Examples, "\n"), "not a JSON record") {
		t.Errorf("examples: %q", stats.Examples)
	}
	if len(b.frame.Columns) != 2 || b.frame.Columns[1].Name != "x[1]" || b.frame.Prediction == nil {
		t.Errorf("frame columns %+v", b.frame.Columns)
	}
}

func TestScanLogsTruncatedGzipKeepsEarlierRecords(t *testing.T) {
	var raw bytes.Buffer
	m := fakeModel{weights: [][]float64{{1}}}
	for _, r := range gaussianRows(rand.New(rand.NewPCG(2, 2)), 200, []float64{0}, []float64{1}, t0, time.Second, "g") {
		raw.Write(record(t, m, r))
		raw.WriteByte('\n')
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	cut := z.Bytes()[:z.Len()/2]
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	ctx := context.Background()
	if err := bucket.WriteAll(ctx, "tab/2026/11/28/10/1-a.jsonl.gz", cut, nil); err != nil {
		t.Fatal(err)
	}
	var stats LogStats
	b := &recordBuilder{dict: NewDictionary()}
	if err := ScanLogs(ctx, Location{Bucket: bucket}, &stats, b.add); err != nil {
		t.Fatal(err)
	}
	if b.frame == nil || b.frame.Rows() == 0 || b.frame.Rows() >= 200 {
		t.Fatalf("want some but not all rows from a truncated file, got frame %v", b.frame)
	}
	if stats.Skipped < 1 || !strings.Contains(stats.Examples[len(stats.Examples)-1], "ends early") {
		t.Errorf("truncation not reported: %+v", stats)
	}
}

func TestScanLogsStringsBatchesAndFilters(t *testing.T) {
	lines := []string{
		`{"ts":"2026-11-28T10:00:00Z","request_id":"a","model":"m1","inputs":[{"name":"city","datatype":"BYTES","shape":[2],"data":["paris","rome"]},{"name":"age","datatype":"INT64","shape":[2],"data":[30,40]}],"outputs":[{"name":"label","datatype":"INT64","shape":[2],"data":[1,0]}]}`,
		`{"ts":"2026-11-28T11:00:00Z","request_id":"b","model":"m1","inputs":[{"name":"age","datatype":"INT64","shape":[1],"data":[50]},{"name":"city","datatype":"BYTES","shape":[1],"data":["oslo"]}],"outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[1]}]}`,
		`{"ts":"2026-11-28T11:00:00Z","request_id":"c","model":"m2","inputs":[{"name":"age","datatype":"INT64","shape":[1],"data":[50]}]}`,
		`{"ts":"2026-11-28T12:00:00Z","request_id":"d","model":"m1","inputs":[{"name":"age","datatype":"INT64","shape":[1],"data":[60]}]}`,
	}
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	ctx := context.Background()
	bucket.WriteAll(ctx, "logs/x.jsonl", []byte(strings.Join(lines, "\n")), nil)
	var stats LogStats
	b := &recordBuilder{dict: NewDictionary(), model: "m1", until: t0.Add(2 * time.Hour)}
	if err := ScanLogs(ctx, Location{Bucket: bucket, Prefix: "logs/"}, &stats, b.add); err != nil {
		t.Fatal(err)
	}
	f := b.frame
	if f.Rows() != 3 {
		t.Fatalf("rows = %d, want 3 (batch of 2 + 1; m2 and the late record filtered)", f.Rows())
	}
	if !f.Columns[0].Categorical || f.Columns[0].Name != "city" || f.Columns[1].Categorical {
		t.Errorf("columns %+v", f.Columns)
	}
	if got := strings.Join(f.Predicted, ","); got != "1,0,1" {
		t.Errorf("predictions %s", got)
	}
	if f.RowInReq[1] != 1 || f.RequestIDs[1] != "a" {
		t.Errorf("row metadata %v %v", f.RequestIDs, f.RowInReq)
	}
}

func TestOpenLocationErrors(t *testing.T) {
	if _, err := OpenLocation(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "pass the folder") {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := OpenLocation(context.Background(), "nosuchscheme://bucket"); err == nil {
		t.Error("unknown URL scheme accepted")
	}
}

func TestFP32ValuesMatchFloat32Reference(t *testing.T) {
	tensor := Tensor{Name: "x", Datatype: "FP32", Shape: []int64{1, 2}, Data: []byte(`[0.003921569,0.1]`)}
	vals, _, err := tensor.Values(NewDictionary())
	if err != nil {
		t.Fatal(err)
	}
	if vals[0] != float64(float32(1.0/255)) || vals[1] != float64(float32(0.1)) {
		t.Errorf("FP32 JSON values %v are not the float32 values a .npy reference holds", vals)
	}
	tensor.Datatype = "FP64"
	vals, _, _ = tensor.Values(NewDictionary())
	if vals[1] != 0.1 {
		t.Errorf("FP64 value rounded: %v", vals[1])
	}
}

func TestOpenLocationFileURLWithPrefix(t *testing.T) {
	dir := t.TempDir()
	m := fakeModel{weights: [][]float64{{1}}}
	writeLogs(t, dir, m, gaussianRows(rand.New(rand.NewPCG(9, 9)), 5, []float64{0}, []float64{1}, t0, time.Second, "u"), 5)
	os.MkdirAll(filepath.Join(dir, "other"), 0o755)
	os.WriteFile(filepath.Join(dir, "other", "x.jsonl"), []byte("{bad\n"), 0o644)
	loc, err := OpenLocation(context.Background(), "file://"+filepath.ToSlash(dir)+"?prefix=tab/")
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	var stats LogStats
	b := &recordBuilder{dict: NewDictionary()}
	if err := ScanLogs(context.Background(), loc, &stats, b.add); err != nil {
		t.Fatal(err)
	}
	if stats.Files != 1 || stats.Records != 5 || stats.Skipped != 0 {
		t.Errorf("prefix not applied: %+v", stats)
	}
}
