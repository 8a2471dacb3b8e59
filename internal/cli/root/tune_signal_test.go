package root

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signalStudy writes a study whose trial records its shell's pid and sleeps; with ignoreTerm
// the trial ignores SIGTERM (as a stuck training loop would).
func signalStudy(t *testing.T, ignoreTerm bool) (dir string) {
	dir = t.TempDir()
	trap := ""
	if ignoreTerm {
		trap = "trap '' TERM; "
	}
	study := `version: 1
study: sig
objectives: [{metric: y, direction: minimize}]
parameters: {x: {type: float, low: 0, high: 1}}
budget: {trials: 5}
trial:
  command: [/bin/sh, -c, "` + trap + `echo $$$$ > pid.${trial.number}; sleep 60; echo mlops-metric y=${x}"]
`
	if err := os.WriteFile(filepath.Join(dir, "study.yaml"), []byte(study), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startTune starts `mlops tune run` and waits until trial 0's shell is running; it returns
// the command, its stderr and the shell's pid.
func startTune(t *testing.T, dir string) (*exec.Cmd, *bytes.Buffer, int) {
	t.Helper()
	mlops, err := exec.LookPath("mlops")
	if err != nil {
		t.Fatalf("the test binary provides mlops on PATH: %v", err)
	}
	cmd := exec.Command(mlops, "tune", "run", "study.yaml")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	pidFile := filepath.Join(dir, "pid.0")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return cmd, &stderr, pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("trial 0 did not start: %s", stderr.String())
		}
	}
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(2 * time.Minute):
		t.Fatal("mlops did not exit after the interrupt")
		return -1
	}
}

// gone waits (bounded) until no process of pid's group is left.
func gone(t *testing.T, pgid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(-pgid, 0); err != nil {
			return
		}
	}
	t.Fatalf("trial process group %d still alive", pgid)
}

// TestTuneCtrlC: Ctrl-C stops launching trials, cancels the running one (its whole process
// group), records it as interrupted and exits 130; the journal loads cleanly afterwards.
func TestTuneCtrlC(t *testing.T) {
	dir := signalStudy(t, false)
	cmd, stderr, pid := startTune(t, dir)
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	gone(t, pid)
	if !strings.Contains(stderr.String(), "stopping at the next safe point (press Ctrl-C again to exit at once)") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	out, err := exec.Command("mlops", "tune", "status", filepath.Join(dir, "study.yaml"), "--output", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Trials map[string]int
	}
	json.Unmarshal(out, &st)
	if st.Trials["failed"] != 1 || st.Trials["running"] != 0 || st.Trials["complete"] != 0 {
		t.Fatalf("after Ctrl-C: %s", out)
	}
}

// TestTuneSecondCtrlCKills: a trial that ignores SIGTERM holds the first Ctrl-C up (grace
// period); a second Ctrl-C exits 130 at once and kills the trial's whole process group.
func TestTuneSecondCtrlCKills(t *testing.T) {
	dir := signalStudy(t, true)
	cmd, stderr, pid := startTune(t, dir)
	cmd.Process.Signal(os.Interrupt)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "stopping"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no stopping message: %s", stderr)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	gone(t, pid)
	if out, err := exec.Command("mlops", "tune", "status", filepath.Join(dir, "study.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("the journal does not load after a forced exit: %v\n%s", err, out)
	}
}
