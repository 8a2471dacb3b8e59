package cmdutil

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mlops-dev/mlops/internal/infer"
)

// Progress reports advancement of a long operation. On a terminal stderr it
// is a progress bar; otherwise (pipes, CI logs, --quiet) it prints nothing.
type Progress interface {
	io.Writer // Write(p) advances by len(p), for io.Copy
	Add(n int64)
	Finish()
}

// NewProgress starts a progress indicator for total units (bytes when
// isBytes). total < 0 means unknown (a spinner).
func NewProgress(s *IOStreams, total int64, description string, isBytes bool) Progress {
	if s.Quiet || !s.IsStderrTTY() {
		return nopProgress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(s.ErrOut),
		progressbar.OptionSetDescription(description),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionEnableColorCodes(s.ColorEnabled()),
	}
	if isBytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return &barProgress{bar: progressbar.NewOptions64(total, opts...)}
}

type barProgress struct{ bar *progressbar.ProgressBar }

func (b *barProgress) Write(p []byte) (int, error) { _ = b.bar.Add(len(p)); return len(p), nil }
func (b *barProgress) Add(n int64)                 { _ = b.bar.Add64(n) }
func (b *barProgress) Finish()                     { _ = b.bar.Finish() }

type nopProgress struct{}

func (nopProgress) Write(p []byte) (int, error) { return len(p), nil }
func (nopProgress) Add(int64)                   {}
func (nopProgress) Finish()                     {}

// DataProgress draws the passes a core run makes over data (calibration, an evaluation) as one
// bar per pass, in rows, on a terminal stderr; elsewhere, and with --quiet, it draws nothing.
// Call finish when the run returns.
func DataProgress(s *IOStreams) (report infer.Progress, finish func()) {
	if s.Quiet || !s.IsStderrTTY() {
		return nil, func() {}
	}
	var (
		bar   Progress
		stage string
		done  int64
	)
	report = func(st string, d, total int64) {
		if bar == nil || st != stage {
			if bar != nil {
				bar.Finish()
			}
			bar, stage, done = NewProgress(s, total, st, false), st, 0
		}
		bar.Add(d - done)
		done = d
	}
	return report, func() {
		if bar != nil {
			bar.Finish()
		}
	}
}

// StepProgress is a bar over a known most number of steps (a search) whose description says
// what the last step found. Off a terminal, and with --quiet, each step is a status line
// instead (which --quiet silences too).
type StepProgress struct {
	s   *IOStreams
	bar *progressbar.ProgressBar
}

// NewStepProgress starts a step bar of at most total steps.
func NewStepProgress(s *IOStreams, total int, description string) *StepProgress {
	p := &StepProgress{s: s}
	if !s.Quiet && s.IsStderrTTY() {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(s.ErrOut),
			progressbar.OptionSetDescription(description),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(20),
			progressbar.OptionEnableColorCodes(s.ColorEnabled()))
		_ = p.bar.RenderBlank()
	}
	return p
}

// Step records one step done; the message describes it.
func (p *StepProgress) Step(format string, args ...any) {
	if p.bar == nil {
		p.s.Statusf(format, args...)
		return
	}
	_ = p.bar.Add(1)
	p.bar.Describe(fmt.Sprintf(format, args...))
}

// Finish clears the bar.
func (p *StepProgress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
