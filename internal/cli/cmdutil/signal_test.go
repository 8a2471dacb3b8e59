package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestSignalContext(t *testing.T) {
	var errOut bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := SignalContext(context.Background(), &errOut, func(code int) { exited <- code })
	defer stop()

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled by SIGINT")
	}
	var ce *CancelError
	if !errors.As(context.Cause(ctx), &ce) || ExitCode(context.Cause(ctx)) != ExitInterrupted {
		t.Fatalf("cause = %v, want CancelError", context.Cause(ctx))
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != ExitInterrupted {
			t.Fatalf("exit(%d), want %d", code, ExitInterrupted)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second SIGINT did not exit")
	}
}
