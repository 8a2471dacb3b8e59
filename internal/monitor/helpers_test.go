package monitor

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeModel is a linear classifier over tabular features, so tests can produce outputs whose argmax is
// known without ONNX Runtime.
type fakeModel struct {
	weights [][]float64 // class × feature
}

func (m fakeModel) logits(x []float64) []float64 {
	out := make([]float64, len(m.weights))
	for c, w := range m.weights {
		for i, v := range x {
			out[c] += w[i] * v
		}
	}
	return out
}

// logRow is one request to write.
type logRow struct {
	id string
	ts time.Time
	x  []float64
}

func record(t testing.TB, m fakeModel, r logRow) []byte {
	t.Helper()
	rec := map[string]any{
		"ts": r.ts.Format(time.RFC3339Nano), "request_id": r.id, "model": "tab", "version": "1",
		"inputs":  []any{map[string]any{"name": "x", "datatype": "FP32", "shape": []int{1, len(r.x)}, "data": r.x}},
		"outputs": []any{map[string]any{"name": "logits", "datatype": "FP32", "shape": []int{1, len(m.weights)}, "data": m.logits(r.x)}},
		"status":  200, "duration_ms": 1.5,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeLogs writes rows as payload-log files under dir/tab/YYYY/MM/DD/HH/, perFile records per file,
// gzip-compressing every other file. Extra raw lines are appended to the first file.
func writeLogs(t testing.TB, dir string, m fakeModel, rows []logRow, perFile int, extra ...string) {
	t.Helper()
	for f := 0; f*perFile < len(rows); f++ {
		chunk := rows[f*perFile : min((f+1)*perFile, len(rows))]
		var buf bytes.Buffer
		for _, r := range chunk {
			buf.Write(record(t, m, r))
			buf.WriteByte('\n')
		}
		if f == 0 {
			for _, e := range extra {
				buf.WriteString(e + "\n")
			}
		}
		ts := chunk[0].ts.UTC()
		sub := filepath.Join(dir, "tab", ts.Format("2006/01/02/15"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d-%04d.jsonl", ts.UnixNano(), f)
		data := buf.Bytes()
		if f%2 == 1 {
			name += ".gz"
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		if err := os.WriteFile(filepath.Join(sub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gaussianRows draws n rows of d features, feature j ~ N(mean[j], std[j]).
func gaussianRows(rng *rand.Rand, n int, mean, std []float64, start time.Time, step time.Duration, prefix string) []logRow {
	rows := make([]logRow, n)
	for i := range rows {
		x := make([]float64, len(mean))
		for j := range x {
			// Round to float32 precision as serve logs FP32.
			x[j] = float64(float32(mean[j] + std[j]*rng.NormFloat64()))
		}
		rows[i] = logRow{id: fmt.Sprintf("%s-%d", prefix, i), ts: start.Add(time.Duration(i) * step), x: x}
	}
	return rows
}

func normalSample(rng *rand.Rand, n int, mean, std float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + std*rng.NormFloat64()
	}
	return out
}

func categorySample(rng *rand.Rand, n int, probs []float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		u := rng.Float64()
		k := 0
		for acc := probs[0]; u > acc && k < len(probs)-1; {
			k++
			acc += probs[k]
		}
		out[i] = float64(k)
	}
	return out
}
