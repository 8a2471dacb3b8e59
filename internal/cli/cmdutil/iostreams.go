package cmdutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// IOStreams are the standard streams of one run, plus what we know about
// them: whether they are terminals and whether colour is wanted. Colour,
// styled tables and progress bars appear only on a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// Quiet suppresses status messages (Statusf); Verbose enables Verbosef.
	// Both are set by the root command from --quiet/--verbose.
	Quiet   bool
	Verbose bool

	stdoutTTY bool
	stderrTTY bool
	color     bool
	width     int // terminal columns of stdout; 0 when unknown
}

// EnvLookup reads an environment variable; os.LookupEnv in production.
type EnvLookup func(string) (string, bool)

// System returns the process's streams. A stream counts as a terminal when
// it is one, or when MLOPS_FORCE_TTY is set (used by tests and by pipelines
// such as `mlops ... | less -R`). Colour is on only for a terminal stdout and
// when NO_COLOR is unset (https://no-color.org); --no-color turns it off later.
func System(env EnvLookup) *IOStreams {
	_, force := env("MLOPS_FORCE_TTY")
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdoutTTY: force || term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: force || term.IsTerminal(int(os.Stderr.Fd())),
	}
	if v, ok := env("COLUMNS"); ok {
		// Set by shells for their own children only, and by users and tests who want a width.
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			s.width = n
		}
	}
	if s.width == 0 {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.width = w
		}
	}
	_, noColor := env("NO_COLOR")
	s.color = s.stdoutTTY && !noColor
	if v, ok := env("TERM"); ok && v == "dumb" {
		s.color = false
	}
	return s
}

// Test returns streams backed by buffers, reported as non-terminals.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal (progress bars go there).
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// TerminalWidth is the width of the terminal stdout is on ($COLUMNS when set), for tables that
// must fit it; 80 when stdout is a terminal of unknown width, 0 when stdout is not a terminal
// (no limit: pipes get every column whole).
func (s *IOStreams) TerminalWidth() int {
	if !s.stdoutTTY {
		return 0
	}
	if s.width <= 0 {
		return 80
	}
	return s.width
}

// SetTerminalWidth overrides the detected width (tests).
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// SetStdoutTTY overrides terminal detection for stdout (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection for stderr (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// ColorEnabled reports whether output may contain ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled turns colour on or off; enabling has no effect unless
// stdout is a terminal.
func (s *IOStreams) SetColorEnabled(v bool) { s.color = v && s.stdoutTTY }

// Statusf prints a progress/status line to stderr unless --quiet.
func (s *IOStreams) Statusf(format string, args ...any) {
	if s.Quiet {
		return
	}
	fmt.Fprintf(s.ErrOut, format+"\n", args...)
}

// Verbosef prints a diagnostic line to stderr only with --verbose.
func (s *IOStreams) Verbosef(format string, args ...any) {
	if !s.Verbose {
		return
	}
	fmt.Fprintf(s.ErrOut, format+"\n", args...)
}
