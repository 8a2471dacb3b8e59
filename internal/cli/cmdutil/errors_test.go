package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitError},
		{"flag", FlagErrorf("bad --x"), ExitUsage},
		{"wrapped flag", fmt.Errorf("run: %w", FlagErrorf("bad")), ExitUsage},
		{"gate", GateErrorf("accuracy 0.8 < 0.9"), ExitGateFailed},
		{"cancel", &CancelError{}, ExitInterrupted},
		{"context canceled", fmt.Errorf("eval: %w", context.Canceled), ExitInterrupted},
		{"silent default", &SilentError{}, ExitError},
		{"silent gate", &SilentError{Code: ExitGateFailed}, ExitGateFailed},
		{"config", &ConfigError{File: "x.yaml", Err: errors.New("unknown key")}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorClassifiers(t *testing.T) {
	if !IsUsageError(fmt.Errorf("x: %w", FlagErrorf("y"))) {
		t.Error("wrapped FlagError is not a usage error")
	}
	if IsUsageError(errors.New("y")) {
		t.Error("plain error is a usage error")
	}
	if !IsSilent(&SilentError{Code: 3}) || IsSilent(errors.New("x")) {
		t.Error("IsSilent misclassifies")
	}
	if got := (&ConfigError{File: "a.yaml", Err: errors.New("bad")}).Error(); got != "config a.yaml: bad" {
		t.Errorf("ConfigError = %q", got)
	}
}
