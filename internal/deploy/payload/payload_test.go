package payload

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/deploy/server"
)

func TestWritesDocumentedLayoutAndRecords(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		l, err := Open(context.Background(), dir, Options{Sample: 1, Gzip: gz, FlushInterval: time.Hour, BatchSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Date(2026, 11, 29, 3, 4, 5, 6, time.UTC)
		for i := range 3 {
			l.Log(server.PayloadRecord{Time: ts, RequestID: "r" + string(rune('0'+i)), Model: "fmnist", Version: "2",
				Inputs:  []*oip.Tensor{oip.NewFP32("input", []int64{1, 2}, []float32{0.5, 1})},
				Outputs: []*oip.Tensor{oip.NewFP32("logits", []int64{1, 2}, []float32{-1, 2.5})}, Status: 200, Duration: 1230 * time.Microsecond})
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "fmnist", "*", "*", "*", "*", "*"))
		if len(files) != 1 {
			t.Fatalf("files %v", files)
		}
		rel, _ := filepath.Rel(dir, files[0])
		now := time.Now().UTC()
		wantPrefix := "fmnist/" + now.Format("2006/01/02/15") + "/"
		wantExt := ".jsonl"
		if gz {
			wantExt += ".gz"
		}
		if !strings.HasPrefix(rel, wantPrefix) && now.Minute() != 0 || !strings.HasSuffix(rel, wantExt) {
			t.Fatalf("key %s, want %s<nanos>-<rand>%s", rel, wantPrefix, wantExt)
		}
		f, _ := os.Open(files[0])
		var r interface{ Read([]byte) (int, error) } = f
		if gz {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		n := 0
		for sc.Scan() {
			var rec struct {
				TS         string  `json:"ts"`
				RequestID  string  `json:"request_id"`
				Model      string  `json:"model"`
				Version    string  `json:"version"`
				Status     int     `json:"status"`
				DurationMs float64 `json:"duration_ms"`
				Inputs     []struct {
					Name     string    `json:"name"`
					Datatype string    `json:"datatype"`
					Shape    []int64   `json:"shape"`
					Data     []float64 `json:"data"`
				} `json:"inputs"`
				Outputs []struct {
					Name string    `json:"name"`
					Data []float64 `json:"data"`
				} `json:"outputs"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if rec.TS != "2026-11-29T03:04:05.000000006Z" || rec.Model != "fmnist" || rec.Version != "2" || rec.Status != 200 ||
				rec.DurationMs != 1.23 || rec.Inputs[0].Datatype != "FP32" || rec.Inputs[0].Data[0] != 0.5 || rec.Outputs[0].Data[1] != 2.5 {
				t.Fatalf("record %+v", rec)
			}
			n++
		}
		f.Close()
		if n != 3 {
			t.Fatalf("%d records", n)
		}
	}
}

func TestSampling(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(context.Background(), dir, Options{Sample: 0.1, FlushInterval: time.Hour, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		l.Log(server.PayloadRecord{Model: "m", Status: 200})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "m", "*", "*", "*", "*", "*"))
	lines := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines += strings.Count(string(b), "\n")
	}
	// binomial(1000, 0.1): mean 100, sd 9.5
	if lines < 50 || lines > 150 {
		t.Fatalf("logged %d of 1000 at sample 0.1", lines)
	}
	if _, err := Open(context.Background(), t.TempDir(), Options{Sample: 0}); err == nil {
		t.Fatal("sample 0 accepted")
	}
}
