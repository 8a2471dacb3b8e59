package tune

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/benchfn"
	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// The multi-process tests run this test binary as the workers: TestMain hands over to
// workerMain when MLOPS_TUNE_TEST_WORKER holds a workerConfig.
func TestMain(m *testing.M) {
	if cfg := os.Getenv("MLOPS_TUNE_TEST_WORKER"); cfg != "" {
		os.Exit(workerMain(cfg))
	}
	os.Exit(m.Run())
}

type workerConfig struct {
	Storage     string
	Worker      string
	Trials      int
	Grid        bool
	Parallelism int
	HeartbeatMS int
	SleepMS     [2]int // each trial sleeps uniformly in [min, max) ms
	ExecLog     string // "start N" and "done N" lines, appended by every worker
}

func workerSpec(c workerConfig) *Spec {
	f, _ := benchfn.Get("branin")
	spec := &Spec{Study: "workers", Storage: c.Storage, Objectives: []study.Objective{{Metric: "y", Direction: study.Minimize}},
		Space: f.Space, Sampler: sampler.Config{Name: "tpe", Seed: 5}, SeedSet: true, Budget: Budget{Trials: c.Trials},
		Parallelism: max(c.Parallelism, 1), Heartbeat: time.Duration(c.HeartbeatMS) * time.Millisecond}
	if c.Grid {
		sp, _ := ParseSpec([]byte("version: 1\nstudy: workers\nobjectives: [{metric: y, direction: minimize}]\nparameters:\n"+
			"  x: {type: int, low: 0, high: 11}\n  y: {type: float, low: 0, high: 0.9, step: 0.1}\nsampler: grid\ntrial: {command: [x, '${x}', '${y}']}\n"), "/")
		spec.Space, spec.Sampler, spec.Budget.Trials = sp.Space, sp.Sampler, 0
	}
	return spec
}

func workerMain(raw string) int {
	var c workerConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	spec := workerSpec(c)
	j, err := journal.Open(ctx, c.Storage, journal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logf, err := os.OpenFile(c.ExecLog, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	obj := ObjectiveFunc(func(ctx context.Context, t *TrialRun) (Result, error) {
		fmt.Fprintf(logf, "start %d %s\n", t.Number, c.Worker)
		d := c.SleepMS[0]
		if c.SleepMS[1] > c.SleepMS[0] {
			d += rand.IntN(c.SleepMS[1] - c.SleepMS[0])
		}
		select {
		case <-time.After(time.Duration(d) * time.Millisecond):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
		fmt.Fprintf(logf, "done %d %s\n", t.Number, c.Worker)
		x, _ := t.Params["x"].(float64)
		y, _ := t.Params["y"].(float64)
		return Result{Metrics: map[string]float64{"y": benchfn.Branin(x, y)}}, nil
	})
	r, err := NewRunner(ctx, spec, j, obj, RunOptions{Worker: c.Worker, Parallelism: c.Parallelism, Shared: true,
		ArtifactsDir: filepath.Join(filepath.Dir(c.ExecLog), "artifacts")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := r.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startWorker runs one worker process.
func startWorker(t *testing.T, c workerConfig) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MLOPS_TUNE_TEST_WORKER="+string(b))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitAll waits for the workers, bounded so that a hang fails instead of blocking CI.
func waitAll(t *testing.T, cmds []*exec.Cmd, limit time.Duration) {
	t.Helper()
	done := make(chan error, len(cmds))
	for _, c := range cmds {
		go func() { done <- c.Wait() }()
	}
	deadline := time.After(limit)
	for range cmds {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-deadline:
			for _, c := range cmds {
				c.Process.Kill()
			}
			t.Fatalf("workers still running after %s", limit)
		}
	}
}

// execCounts reads the execution log: how often each trial started and finished.
func execCounts(t *testing.T, path string) (starts, dones map[int]int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	starts, dones = map[int]int{}, map[int]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 2 {
			continue // a line cut by kill -9
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		switch parts[0] {
		case "start":
			starts[n]++
		case "done":
			dones[n]++
		}
	}
	return starts, dones
}

func loadJournal(t *testing.T, storage string) (*study.Study, []string) {
	t.Helper()
	j, err := journal.Open(context.Background(), storage, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	st, err := j.Load(context.Background())
	if err != nil {
		t.Fatalf("the journal does not load: %v", err)
	}
	return st, j.Warnings()
}

// sharedStudy runs n workers on storage to the budget and checks that no trial was lost or
// run twice and that the first n parameter sets differ.
func sharedStudy(t *testing.T, storage string, n, trials int) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "exec.log")
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		cmds = append(cmds, startWorker(t, workerConfig{Storage: storage, Worker: fmt.Sprintf("w%d", i), Trials: trials,
			Parallelism: 1, HeartbeatMS: 5000, SleepMS: [2]int{0, 4}, ExecLog: logPath}))
	}
	waitAll(t, cmds, 8*time.Minute)
	st, warnings := loadJournal(t, storage)
	c := st.Count()
	if c.Complete != trials || c.Failed != 0 || c.Running != 0 || len(st.Trials) != trials || len(warnings) != 0 {
		t.Fatalf("%+v over %d trials, warnings %q", c, len(st.Trials), warnings)
	}
	starts, dones := execCounts(t, logPath)
	for i, tr := range st.Trials {
		if tr.Number != i || starts[i] != 1 || dones[i] != 1 {
			t.Fatalf("trial %d (number %d) started %d times, finished %d times", i, tr.Number, starts[i], dones[i])
		}
	}
	if len(starts) != trials {
		t.Fatalf("%d trials executed, want %d", len(starts), trials)
	}
	seen := map[string]bool{}
	workers := map[string]bool{}
	for _, tr := range st.Trials[:n] {
		seen[fmt.Sprint(tr.Params)] = true
	}
	for _, tr := range st.Trials {
		workers[tr.Worker] = true
	}
	if len(seen) != n || len(workers) < 2 {
		t.Fatalf("first %d parameter sets: %d distinct; %d workers ran trials", n, len(seen), len(workers))
	}
}

// TestEightWorkersOneFile: 8 processes share one journal file for 500 trials: none lost,
// none run twice, the first 8 parameter sets distinct.
func TestEightWorkersOneFile(t *testing.T) {
	sharedStudy(t, filepath.Join(t.TempDir(), "workers.jsonl"), 8, 500)
}

// TestWorkersShareAGrid: 4 processes on a 120-point grid run every point exactly once.
func TestWorkersShareAGrid(t *testing.T) {
	dir := t.TempDir()
	storage := filepath.Join(dir, "grid.jsonl")
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		cmds = append(cmds, startWorker(t, workerConfig{Storage: storage, Worker: fmt.Sprintf("g%d", i), Grid: true,
			Parallelism: 2, HeartbeatMS: 5000, SleepMS: [2]int{0, 3}, ExecLog: filepath.Join(dir, "exec.log")}))
	}
	waitAll(t, cmds, 5*time.Minute)
	st, _ := loadJournal(t, storage)
	points := map[string]int{}
	for _, tr := range st.Trials {
		points[fmt.Sprint(tr.Params)]++
	}
	if st.Count().Complete != 120 || len(st.Trials) != 120 || len(points) != 120 {
		t.Fatalf("%+v, %d trials, %d distinct points", st.Count(), len(st.Trials), len(points))
	}
}

// TestKilledWorkers kills a random worker with SIGKILL 200 times (restarting it each time)
// while 4 workers share one journal file. After every kill the journal loads; no trial the
// journal ever showed complete is lost; the trials of killed workers end failed as lost and
// are retried; the study ends with exactly its budget of completed trials. How long the
// killed trials stayed RUNNING is logged in heartbeat periods (a measurement, not a check).
func TestKilledWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const workers, kills, budget, hbMS = 4, 200, 400, 300
	dir := t.TempDir()
	storage := filepath.Join(dir, "kill.jsonl")
	logPath := filepath.Join(dir, "exec.log")
	cfg := func(id string) workerConfig {
		return workerConfig{Storage: storage, Worker: id, Trials: budget, Parallelism: 2, HeartbeatMS: hbMS, SleepMS: [2]int{20, 80}, ExecLog: logPath}
	}
	type proc struct {
		id   string
		cmd  *exec.Cmd
		done chan struct{}
	}
	start := func(id string) *proc {
		p := &proc{id: id, cmd: startWorker(t, cfg(id)), done: make(chan struct{})}
		go func() { p.cmd.Wait(); close(p.done) }()
		return p
	}
	var procs []*proc
	for i := 0; i < workers; i++ {
		procs = append(procs, start(fmt.Sprintf("k%d-0", i)))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.cmd.Process.Kill()
		}
	})
	// Kill only once the study exists (before, the journal is legitimately empty).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if j, err := journal.Open(context.Background(), storage, journal.Options{ReadOnly: true}); err == nil {
			_, err = j.Load(context.Background())
			j.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no worker created the study")
		}
	}
	killedAt := map[string]time.Time{}
	everComplete := map[int]float64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(20+rng.IntN(130)) * time.Millisecond)
		i := rng.IntN(workers)
		p := procs[i]
		select {
		case <-p.done: // it finished (budget reached): nothing to kill
		default:
			syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			killedAt[p.id] = time.Now()
		}
		procs[i] = start(fmt.Sprintf("k%d-%d", i, k))
		st, _ := loadJournal(t, storage)
		for _, tr := range st.Trials {
			if tr.State == study.Complete {
				everComplete[tr.Number] = tr.Values[0]
			}
		}
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(5 * time.Minute):
			t.Fatal("workers did not finish after the kills stopped")
		}
	}
	st, warnings := loadJournal(t, storage)
	c := st.Count()
	if c.Complete != budget || c.Running != 0 {
		t.Fatalf("after %d kills: %+v, want exactly %d complete", kills, c, budget)
	}
	for n, v := range everComplete {
		if tr := st.Trial(n); tr == nil || tr.State != study.Complete || tr.Values[0] != v {
			t.Fatalf("trial %d was complete (%v) and is now %+v", n, v, tr)
		}
	}
	var delays []float64
	lostTrials, retried := 0, map[int]bool{}
	for _, tr := range st.Trials {
		if tr.RetryOf != nil {
			retried[*tr.RetryOf] = true
		}
	}
	for _, tr := range st.Trials {
		if tr.State != study.Failed {
			continue
		}
		if !tr.Lost {
			t.Fatalf("trial %d failed on its own: %s", tr.Number, tr.Message)
		}
		lostTrials++
		if tr.RetryOf == nil && !retried[tr.Number] {
			t.Errorf("lost trial %d was not retried", tr.Number)
		}
		if at, ok := killedAt[tr.Worker]; ok {
			delays = append(delays, tr.Finished.Sub(at).Seconds()/(hbMS/1000.0))
		}
	}
	starts, _ := execCounts(t, logPath)
	twice := 0
	for _, k := range starts {
		if k > 1 {
			twice++
		}
	}
	sort.Float64s(delays)
	if len(delays) == 0 {
		t.Fatal("no trial was lost: the kills did not hit running trials")
	}
	t.Logf("%d kills: %d trials lost and failed, %d of them retried; %d trials complete; %d torn/skipped lines reported; "+
		"trial numbers started twice: %d", kills, lostTrials, len(retried), c.Complete, len(warnings), twice)
	t.Logf("kill → failed-as-lost delay in heartbeat periods (%d ms): median %.2f, p90 %.2f, max %.2f over %d trials",
		hbMS, delays[len(delays)/2], delays[len(delays)*9/10], delays[len(delays)-1], len(delays))
}
