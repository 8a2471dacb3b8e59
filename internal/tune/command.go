package tune

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Command runs each trial as an external program: ${param} references in its arguments and
// environment are replaced by the trial's values, it runs in its own process group (killed
// as a whole on timeout, pruning or Ctrl-C, and when mlops itself dies), and it reports
// metrics as `mlops-metric NAME=VALUE [step=N]` lines on stdout or as a JSON object in the
// file $MLOPS_METRICS_FILE names. Its whole output goes to output.log in the trial's folder.
type Command struct {
	Spec *Spec
	// Environ is the environment the program starts from (the CLI passes its own).
	Environ []string
	// Grace is how long the program has to exit after SIGTERM before SIGKILL (default 5s).
	Grace time.Duration

	mu     sync.Mutex
	groups map[int]bool // process groups of running trials
}

// KillAll kills every running trial's process group at once (SIGKILL, no grace): for a
// process that is about to exit without waiting for its trials.
func (c *Command) KillAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pgid := range c.groups {
		killGroup(pgid)
	}
}

func (c *Command) track(pgid int, running bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups == nil {
		c.groups = map[int]bool{}
	}
	if running {
		c.groups[pgid] = true
	} else {
		delete(c.groups, pgid)
	}
}

const tailLines, tailLineBytes = 20, 400

// Run implements Objective.
func (c *Command) Run(ctx context.Context, t *TrialRun) (Result, error) {
	s := c.Spec
	lookup := valueLookup(s.Space, t.Params, t.Number, t.Dir, s.Study)
	var args []string
	for _, a := range s.Trial.Command {
		tp, _ := parseTemplate(a) // checked when the spec was loaded
		if v, ok := tp.expand(lookup); ok {
			args = append(args, v)
		}
	}
	metricsFile := filepath.Join(t.Dir, "metrics.json")
	if s.Trial.MetricsFile != "" {
		tp, _ := parseTemplate(s.Trial.MetricsFile)
		metricsFile, _ = tp.expand(lookup)
		if !filepath.IsAbs(metricsFile) {
			metricsFile = filepath.Join(s.Trial.Dir, metricsFile)
		}
	}
	_ = os.Remove(metricsFile) // a file from an earlier attempt must not count for this one
	pj, _ := json.Marshal(t.Params)
	env := append(append([]string(nil), c.Environ...),
		"MLOPS_STUDY="+s.Study,
		fmt.Sprintf("MLOPS_TRIAL_NUMBER=%d", t.Number),
		"MLOPS_TRIAL_DIR="+t.Dir,
		"MLOPS_TRIAL_PARAMS="+string(pj),
		"MLOPS_METRICS_FILE="+metricsFile,
		"MLOPS_MODEL_FILE="+filepath.Join(t.Dir, ModelFile))
	for k, v := range s.Trial.Env {
		tp, _ := parseTemplate(v)
		if x, ok := tp.expand(lookup); ok {
			env = append(env, k+"="+x)
		}
	}
	logf, err := os.Create(filepath.Join(t.Dir, "output.log"))
	if err != nil {
		return Result{}, fmt.Errorf("create the trial's output.log: %w", err)
	}
	defer logf.Close()

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = s.Trial.Dir, env
	cmd.SysProcAttr = procAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start %s: %w", args[0], err)
	}
	c.track(cmd.Process.Pid, true)
	defer c.track(cmd.Process.Pid, false)
	tail := &outputTail{}
	stop := make(chan struct{}) // closed to kill the program early (bad metric, pruned)
	var stopOnce sync.Once
	kill := func() { stopOnce.Do(func() { close(stop) }) }
	exited := make(chan struct{})    // closed once the program has been waited for
	watchDone := make(chan struct{}) // the watchdog has returned
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
		case <-stop:
		case <-exited:
			return
		}
		terminate(cmd.Process.Pid, c.grace(), exited)
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyLines(stderr, func(l string) { fmt.Fprintln(logf, l); tail.add(l) })
	}()
	metrics := map[string]float64{}
	var lineErr, pruneErr error
	obj := s.Objectives[0].Metric
	copyLines(stdout, func(l string) {
		fmt.Fprintln(logf, l)
		tail.add(l)
		if lineErr != nil || pruneErr != nil {
			return
		}
		m, ok, err := ParseMetricLine(l)
		switch {
		case !ok:
			return
		case err != nil:
			lineErr = err
			kill()
			return
		}
		metrics[m.Name] = m.Value
		if m.HasStep && m.Name == obj {
			if err := t.Report(ctx, m.Step, m.Value); err != nil {
				pruneErr = err
				kill()
			}
		}
	})
	wg.Wait()
	werr := cmd.Wait()
	close(exited)
	<-watchDone
	res := Result{Output: tail.String()}
	if cmd.ProcessState != nil {
		code := cmd.ProcessState.ExitCode()
		res.ExitCode = &code
	}
	switch {
	case lineErr != nil:
		return res, lineErr
	case pruneErr != nil:
		return res, pruneErr
	case ctx.Err() != nil:
		return res, context.Cause(ctx)
	case werr != nil:
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			return res, fmt.Errorf("%s %s", args[0], strings.TrimPrefix(ee.Error(), "exit status ")+exitHint(ee))
		}
		return res, fmt.Errorf("%s: %w", args[0], werr)
	}
	if err := readMetricsFile(metricsFile, metrics); err != nil {
		return res, err
	}
	res.Metrics = metrics
	res.Artifact = trialModel(t.Dir)
	return res, nil
}

// ModelFile is the name of the model a command trial may leave in its folder
// ($MLOPS_MODEL_FILE): it becomes the trial's artifact, which --push pushes.
const ModelFile = "model.onnx"

// trialModel returns the absolute path of the trial's model, or "" if it left none.
func trialModel(dir string) string {
	p, err := filepath.Abs(filepath.Join(dir, ModelFile))
	if err != nil {
		return ""
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}

func exitHint(ee *exec.ExitError) string {
	if ee.ExitCode() >= 0 {
		return fmt.Sprintf(" (exited with status %d)", ee.ExitCode())
	}
	return ""
}

func (c *Command) grace() time.Duration {
	if c.Grace > 0 {
		return c.Grace
	}
	return 5 * time.Second
}

// readMetricsFile merges a JSON object of metric values into metrics.
func readMetricsFile(path string, metrics map[string]float64) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("metrics file %s: want a JSON object of numbers such as {\"val_loss\": 0.25}: %v", path, err)
	}
	for k, v := range m {
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("metrics file %s: %s is %v, not a number", path, k, v)
		}
		metrics[k] = f
	}
	return nil
}

// copyLines calls fn for each line of r (any length), without the newline.
func copyLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		l, err := br.ReadString('\n')
		if len(l) > 0 {
			fn(strings.TrimRight(l, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// outputTail keeps the last lines of a program's output for failure messages.
type outputTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *outputTail) add(l string) {
	if len(l) > tailLineBytes {
		l = l[:tailLineBytes] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
}

func (t *outputTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
