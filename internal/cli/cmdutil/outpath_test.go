package cmdutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mlops-dev/mlops/internal/safefile"
)

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "m.onnx")
	os.WriteFile(existing, nil, 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutput("--out", "-", true); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "standard output") {
		t.Errorf("-: %v (exit %d), want a usage error", err, ExitCode(err))
	}
	if err := CheckOutput("--out", existing, false); !errors.Is(err, safefile.ErrExists) {
		t.Errorf("existing without force: %v", err)
	}
	if err := CheckOutput("--out", existing, true); err != nil {
		t.Errorf("existing with force: %v", err)
	}
	if err := CheckOutput("--out", fifo, true); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("FIFO with force: %v", err)
	}
	if err := CheckOutput("--out", "/dev/full", true); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("/dev/full with force: %v", err)
	}
}

func TestCheckReportFiles(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.html")
	os.WriteFile(report, nil, 0o644)
	got, err := CheckReportFiles(FormatTable, ReportFile{"--report", "-"}, ReportFile{"--textfile", report}, ReportFile{"--plots", ""})
	if err != nil || got != "--report" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := CheckReportFiles(FormatTable, ReportFile{"--report", "-"}, ReportFile{"--textfile", "-"}); ExitCode(err) != ExitUsage {
		t.Errorf("two to stdout: %v", err)
	}
	if _, err := CheckReportFiles(FormatJSON, ReportFile{"--report", "-"}); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--output json") {
		t.Errorf("with --output json: %v", err)
	}
	if _, err := CheckReportFiles(FormatTable, ReportFile{"--report", "/dev/null"}); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("/dev/null: %v", err)
	}
}
