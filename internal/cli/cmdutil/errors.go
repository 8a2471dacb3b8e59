package cmdutil

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes of the mlops binary. They are a contract with scripts and CI
// jobs: never renumber them.
const (
	ExitOK          = 0   // the command did what was asked
	ExitError       = 1   // it failed (bad input file, I/O error, ...)
	ExitUsage       = 2   // the command line was wrong (unknown flag, missing argument)
	ExitGateFailed  = 3   // it ran, but a quality gate (accuracy, drift, ...) failed
	ExitInterrupted = 130 // cancelled by Ctrl-C / SIGTERM (128 + SIGINT)
)

// ExitCodesHelp documents the exit codes, once, in `mlops --help`; a
// command's own help says only what its codes mean for it (e.g. 3 for a
// failed gate).
const ExitCodesHelp = `Exit codes:
  0    success
  1    error (bad input, I/O failure, ...)
  2    usage error (unknown flag or command, wrong arguments, bad flag value)
  3    a quality gate failed (for commands that check thresholds)
  130  interrupted (Ctrl-C or SIGTERM)`

// FlagError reports a wrong command line. It exits with ExitUsage and the
// root command prints a hint to see --help after the message.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError from a format string.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// GateError reports that a command ran to completion but a quality gate
// (a threshold the user asked for) was not met. It exits with ExitGateFailed.
type GateError struct{ Err error }

func (e *GateError) Error() string { return e.Err.Error() }
func (e *GateError) Unwrap() error { return e.Err }

// GateErrorf builds a GateError from a format string.
func GateErrorf(format string, args ...any) error {
	return &GateError{Err: fmt.Errorf(format, args...)}
}

// CancelError reports that the user interrupted the command. It exits with
// ExitInterrupted. Errors wrapping context.Canceled are treated the same way.
type CancelError struct{ Err error }

func (e *CancelError) Error() string {
	if e.Err == nil {
		return "interrupted"
	}
	return e.Err.Error()
}
func (e *CancelError) Unwrap() error { return e.Err }

// SilentError makes the command exit with Code without printing anything
// more: the command has already told the user what went wrong (for example
// `inspect --check` after listing the problems). Code 0 is treated as 1.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.exitCode()) }

func (e *SilentError) exitCode() int {
	if e.Code == 0 {
		return ExitError
	}
	return e.Code
}

// ConfigError reports a problem with the configuration file or environment
// (unknown key, unreadable file, bad value). It exits with ExitError.
type ConfigError struct {
	File string // empty when the problem is not in a file
	Err  error
}

func (e *ConfigError) Error() string {
	if e.File == "" {
		return "config: " + e.Err.Error()
	}
	return "config " + e.File + ": " + e.Err.Error()
}
func (e *ConfigError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by a command to the process exit code.
// This is the only place where that mapping lives.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var silent *SilentError
	var flagErr *FlagError
	var gateErr *GateError
	var cancelErr *CancelError
	switch {
	case errors.As(err, &silent):
		return silent.exitCode()
	case errors.As(err, &cancelErr), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &flagErr):
		return ExitUsage
	case errors.As(err, &gateErr):
		return ExitGateFailed
	default:
		return ExitError
	}
}

// IsUsageError reports whether err should be followed by a hint to read --help.
func IsUsageError(err error) bool {
	var flagErr *FlagError
	return errors.As(err, &flagErr)
}

// IsSilent reports whether err must not be printed.
func IsSilent(err error) bool {
	var silent *SilentError
	return errors.As(err, &silent)
}
