package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSignalContext(t *testing.T) {
	// The first signal's message promises no more than what happens (a command past its last
	// safe point finishes), and names the signal as users know it: never "interrupted by
	// interrupt".
	var errOut bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := SignalContext(context.Background(), &errOut, func(code int) { exited <- code })
	defer stop()
	hooked := make(chan bool, 2)
	OnForcedExit(ctx, func() { hooked <- true })
	OnForcedExit(ctx, func() { hooked <- false })() // registered and removed at once

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
	if got := context.Cause(ctx).Error(); got != "stopped by Ctrl-C (SIGINT)" {
		t.Errorf("cause says %q", got)
	}
	if _, ok := Interrupted(ctx); !ok {
		t.Error("Interrupted does not see the signal")
	}
	// The message is written before the context is cancelled, so it is complete here.
	if msg := errOut.String(); !strings.Contains(msg, "Ctrl-C (SIGINT): stopping at the next safe point (press Ctrl-C again to exit at once)") {
		t.Errorf("message %q", msg)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != ExitInterrupted {
			t.Fatalf("exit(%d), want %d", code, ExitInterrupted)
		}
		if len(hooked) != 1 || !<-hooked {
			t.Fatal("the forced-exit hook did not run exactly once")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second SIGINT did not exit")
	}
}
