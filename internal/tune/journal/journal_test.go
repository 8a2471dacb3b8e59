package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

func testSpace(t testing.TB) *space.Space {
	sp, err := space.New([]space.Param{{Name: "x", Type: space.Float, Low: 0, High: 1}, {Name: "k", Type: space.Int, Low: 1, High: 4}})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func ptr[T any](v T) *T { return &v }

func studyRecord(t testing.TB, name string) Record {
	return Record{Op: OpStudy, Study: &StudyInfo{Name: name, Format: Format, Seed: 7, Space: testSpace(t),
		Objectives: []study.Objective{{Metric: "loss", Direction: study.Minimize}}}}
}

// create writes the study record.
func create(t testing.TB, j *Journal, name string) {
	t.Helper()
	err := j.Update(context.Background(), func(st *study.Study) ([]Record, error) {
		if st != nil {
			return nil, nil
		}
		return []Record{studyRecord(t, name)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startTrial claims the next trial number in one transaction.
func startTrial(t testing.TB, j *Journal, worker string) int {
	t.Helper()
	var n int
	err := j.Update(context.Background(), func(st *study.Study) ([]Record, error) {
		n = len(st.Trials)
		return []Record{{Op: OpStart, Worker: worker, Trial: ptr(n), Params: map[string]any{"x": 0.5, "k": 2.0}, LeaseS: 10}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func finish(t testing.TB, j *Journal, n int, v float64) {
	t.Helper()
	err := j.Update(context.Background(), func(*study.Study) ([]Record, error) {
		return []Record{{Op: OpFinish, Trial: ptr(n), State: study.Complete, Values: []float64{v}, Metrics: map[string]float64{"loss": v}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func openFileJournal(t testing.TB, path string, ro bool) *Journal {
	t.Helper()
	j, err := Open(context.Background(), path, Options{ReadOnly: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func load(t testing.TB, j *Journal) *study.Study {
	t.Helper()
	st, err := j.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs", "s.jsonl")
	j := openFileJournal(t, path, false)
	create(t, j, "s")
	for i := 0; i < 3; i++ {
		n := startTrial(t, j, "w1")
		if err := j.Update(context.Background(), func(*study.Study) ([]Record, error) {
			return []Record{{Op: OpReport, Trial: ptr(n), Step: ptr(int64(1)), Value: ptr(0.9)}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		finish(t, j, n, float64(3-i))
	}
	startTrial(t, j, "w1") // left running
	st := load(t, openFileJournal(t, path, true))
	if len(st.Trials) != 4 || st.Best().Number != 2 || st.Count().Running != 1 || st.Trials[0].Intermediate[0].Value != 0.9 {
		t.Fatalf("replayed %+v", st.Count())
	}
	if st.Trials[0].Params["k"] != 2.0 || st.Trials[3].Lease != 10*time.Second {
		t.Fatalf("trial 0 %+v", st.Trials[0])
	}
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 1+3*3+1 {
		t.Fatalf("%d lines", n)
	}
}

// TestTornLastLine: a writer killed mid-append leaves a partial line. Loading ignores and
// reports it; the next append seals it so the new record stays intact; every later load skips
// it with one warning.
func TestTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	j := openFileJournal(t, path, false)
	create(t, j, "s")
	finish(t, j, startTrial(t, j, "w"), 1)
	good, _ := os.ReadFile(path)
	line, _ := encodeLine(Record{Op: OpStart, Trial: ptr(1), Params: map[string]any{"x": 0.1, "k": 1.0}, Time: time.Now()})
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(line[:len(line)/2])
	f.Close()

	r := openFileJournal(t, path, true)
	st := load(t, r)
	w := r.Warnings()
	if len(st.Trials) != 1 || len(w) != 1 || !strings.Contains(w[0], "incomplete") {
		t.Fatalf("trials %d, warnings %q", len(st.Trials), w)
	}
	j2 := openFileJournal(t, path, false)
	if n := startTrial(t, j2, "w2"); n != 1 {
		t.Fatalf("next trial %d", n)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, good) || bytes.Count(data, []byte("\n")) != bytes.Count(good, []byte("\n"))+2 {
		t.Fatalf("append did not seal the torn line:\n%s", data[len(good):])
	}
	fresh := openFileJournal(t, path, true)
	st = load(t, fresh)
	w = fresh.Warnings()
	if len(st.Trials) != 2 || len(w) != 1 || !strings.Contains(w[0], "record skipped") {
		t.Fatalf("after sealing: trials %d, warnings %q", len(st.Trials), w)
	}
}

// TestCorruptLineSkipped: a damaged record in the middle is skipped and named, the rest loads.
func TestCorruptLineSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	j := openFileJournal(t, path, false)
	create(t, j, "s")
	for i := 0; i < 3; i++ {
		finish(t, j, startTrial(t, j, "w"), float64(i))
	}
	data, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[4] = bytes.Replace(lines[4], []byte(`"state":"COMPLETE"`), []byte(`"state":"COMPLETX"`), 1) // trial 1's finish
	os.WriteFile(path, bytes.Join(lines, nil), 0o644)
	r := openFileJournal(t, path, true)
	st := load(t, r)
	w := r.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "checksum mismatch") {
		t.Fatalf("warnings %q", w)
	}
	if c := st.Count(); c.Complete != 2 || c.Running != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestNotAJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.txt")
	os.WriteFile(path, []byte("hello\n"), 0o644)
	_, err := openFileJournal(t, path, true).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not an mlops tune journal") {
		t.Fatalf("%v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "missing.jsonl"), Options{ReadOnly: true}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing journal: %v", err)
	}
	// A journal that shrank was truncated or replaced: refuse it instead of misreading.
	j := openFileJournal(t, filepath.Join(dir, "s.jsonl"), false)
	create(t, j, "s")
	startTrial(t, j, "w")
	os.Truncate(filepath.Join(dir, "s.jsonl"), 10)
	if err := j.Update(context.Background(), func(*study.Study) ([]Record, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("truncated journal: %v", err)
	}
}

func TestNoWritePermission(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses /sys, which refuses new files even to root")
	}
	_, err := Open(context.Background(), "/sys/mlops-tune-test.jsonl", Options{})
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("%v", err)
	}
}

// TestConcurrentWritersOnOneFile: two journals on the same file (as two processes would have)
// and several goroutines each claim trials; every number is claimed exactly once.
func TestConcurrentWritersOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	a, b := openFileJournal(t, path, false), openFileJournal(t, path, false)
	create(t, a, "s")
	claimers(t, []*Journal{a, b}, 4, 25)
	st := load(t, openFileJournal(t, path, true))
	checkDense(t, st, 200)
}

func claimers(t *testing.T, js []*Journal, perJournal, each int) {
	var wg sync.WaitGroup
	for i, j := range js {
		for g := 0; g < perJournal; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < each; k++ {
					startTrial(t, j, fmt.Sprintf("w%d-%d", i, g))
				}
			}()
		}
	}
	wg.Wait()
}

func checkDense(t *testing.T, st *study.Study, n int) {
	t.Helper()
	if len(st.Trials) != n {
		t.Fatalf("%d trials, want %d", len(st.Trials), n)
	}
	for i, tr := range st.Trials {
		if tr.Number != i {
			t.Fatalf("trial %d has number %d", i, tr.Number)
		}
	}
}

// TestBlobConditionalAppends: two journals on one bucket race for segment numbers; losers
// re-read and retry, so every claim lands once. Snapshots let a fresh reader start late.
func TestBlobConditionalAppends(t *testing.T) {
	bucket := memblob.OpenBucket(nil)
	open := func() *Journal { return OpenBucket(bucket, "mem://test", Options{SnapshotEvery: 16}) }
	a, b := open(), open()
	create(t, a, "s")
	claimers(t, []*Journal{a, b}, 3, 20)
	st := load(t, open())
	checkDense(t, st, 120)
	snaps, _ := bucket.List(nil).Next(context.Background())
	if snaps == nil {
		t.Fatal("nothing written")
	}
	var keys []string
	it := bucket.List(nil)
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		keys = append(keys, o.Key)
	}
	if !containsPrefix(keys, "snapshot-") {
		t.Fatalf("no snapshot among %d objects", len(keys))
	}
	// A reader starts from the latest snapshot: with the segments it covers gone, it still
	// sees everything.
	for seq := int64(1); seq <= 16; seq++ {
		if err := bucket.Delete(context.Background(), segmentKey(seq)); err != nil {
			t.Fatal(err)
		}
	}
	checkDense(t, load(t, open()), 120)
}

func containsPrefix(keys []string, p string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// TestHeartbeatsAndStale: a worker's heartbeat renews all its running trials; a trial whose
// worker went quiet for longer than its lease is stale.
func TestHeartbeatsAndStale(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.jsonl"), Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	create(t, j, "s")
	a := startTrial(t, j, "alive")
	d := startTrial(t, j, "dead")
	now = now.Add(8 * time.Second)
	j.Update(context.Background(), func(*study.Study) ([]Record, error) { return []Record{{Op: OpHeartbeat, Worker: "alive"}}, nil })
	now = now.Add(5 * time.Second)
	st := load(t, j)
	stale := st.Stale(now)
	if len(stale) != 1 || stale[0].Number != d || st.Trial(a).Heartbeat != now.Add(-5*time.Second) {
		t.Fatalf("stale %v", stale)
	}
	// A finish after the trial was already failed (a worker that came back) changes nothing.
	j.Update(context.Background(), func(*study.Study) ([]Record, error) {
		return []Record{{Op: OpFinish, Trial: ptr(d), State: study.Failed, Lost: true, Message: "lost"}}, nil
	})
	finish(t, j, d, 0.1)
	if tr := load(t, j).Trial(d); tr.State != study.Failed || !tr.Lost {
		t.Fatalf("late finish overrode the failure: %+v", tr)
	}
}
