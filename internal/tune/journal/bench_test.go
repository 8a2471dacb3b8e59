package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// writeBigJournal writes a journal of n finished trials (start, one report, finish; a heartbeat
// every 10 trials) directly, without n fsyncs.
func writeBigJournal(b *testing.B, path string, n int) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Unix(1.7e9, 0)
	put := func(r Record) {
		line, err := encodeLine(r)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(line)
	}
	st := studyRecord(b, "big")
	st.Time = t0
	put(st)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		put(Record{Op: OpStart, Time: at, Worker: "w", Trial: ptr(i), Params: map[string]any{"x": float64(i%1000) / 1000, "k": float64(1 + i%4)}, LeaseS: 15})
		put(Record{Op: OpReport, Time: at, Trial: ptr(i), Step: ptr(int64(1)), Value: ptr(0.5)})
		if i%10 == 0 {
			put(Record{Op: OpHeartbeat, Time: at, Worker: "w"})
		}
		put(Record{Op: OpFinish, Time: at, Trial: ptr(i), State: study.Complete, Values: []float64{float64(i % 97)},
			Metrics: map[string]float64{"loss": float64(i % 97), "acc": 0.9}, DurationS: 12.5})
	}
	w.Flush()
	f.Close()
	st2, _ := os.Stat(path)
	return st2.Size()
}

// BenchmarkResume10000 loads a 10,000-trial journal from scratch (the bound: < 1 s), beside a
// baseline measured in the same run: reading the same file and JSON-decoding each line into a
// map, which is the least any JSON-lines reader does.
func BenchmarkResume10000(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.jsonl")
	size := writeBigJournal(b, path, 10000)
	b.Run("mlops", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			j, err := Open(context.Background(), path, Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			st, err := j.Load(context.Background())
			if err != nil || len(st.Trials) != 10000 {
				b.Fatal(err)
			}
			j.Close()
		}
	})
	b.Run("baseline-json-decode", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			for _, l := range bytes.Split(data, []byte{'\n'}) {
				if len(l) == 0 {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(l, &m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkAppend is one durable transaction (lock, replay, append, fsync) on a file journal,
// beside the bare write+fsync of the same bytes: the cost of durability is the fsync.
func BenchmarkAppend(b *testing.B) {
	dir := b.TempDir()
	j, err := Open(context.Background(), filepath.Join(dir, "a.jsonl"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	create(b, j, "a")
	b.Run("mlops-update", func(b *testing.B) {
		for b.Loop() {
			startTrial(b, j, "w")
		}
	})
	b.Run("baseline-write-fsync", func(b *testing.B) {
		f, _ := os.OpenFile(filepath.Join(dir, "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		defer f.Close()
		line, _ := encodeLine(Record{Op: OpStart, Trial: ptr(1), Params: map[string]any{"x": 0.5, "k": 2.0}})
		for b.Loop() {
			f.Write(line)
			f.Sync()
		}
	})
}
