package cmdutil

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
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
