package cmdutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM,
// so the running command can stop cleanly (remove temp files, close
// sessions). A second signal calls exit(ExitInterrupted) at once, for a user
// who does not want to wait, after the functions registered with
// OnForcedExit. stop releases the signal handler.
//
// The message printed at the first signal promises only what is true either
// way: the command stops at its next safe point, which for a command that
// writes files is before they are put in place. A command that had passed
// that point finishes, and Run says so (see Interrupted).
func SignalContext(parent context.Context, errOut io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	hooks := &exitHooks{}
	ctx, cancel := context.WithCancelCause(context.WithValue(parent, exitHooksKey{}, hooks))
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			name := signalName(sig)
			fmt.Fprintf(errOut, "\n%s: stopping at the next safe point (press Ctrl-C again to exit at once)\n", name)
			cancel(&CancelError{Err: fmt.Errorf("stopped by %s", name)})
		case <-done:
			return
		}
		select {
		case <-ch:
			hooks.run()
			exit(ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// signalName is how messages name a signal: "Ctrl-C (SIGINT)", "SIGTERM".
// os.Signal's own String is "interrupt", which made "interrupted by interrupt".
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "Ctrl-C (SIGINT)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// Interrupted reports whether ctx was cancelled by a signal through
// SignalContext, and the CancelError that says so.
func Interrupted(ctx context.Context) (*CancelError, bool) {
	ce, ok := context.Cause(ctx).(*CancelError)
	return ce, ok
}

// AnnotationRunsUntilSignal marks a command whose normal end is a signal
// (serve): its clean exit after Ctrl-C is not a command that "had already
// finished" when the signal came.
const AnnotationRunsUntilSignal = "mlops/runs-until-signal"

type exitHooksKey struct{}

// exitHooks are what must happen even when the user will not wait (kill child processes).
type exitHooks struct {
	mu  sync.Mutex
	fns map[int]func()
	n   int
}

func (h *exitHooks) run() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fn := range h.fns {
		fn()
	}
}

// OnForcedExit registers fn to run when a second signal makes the process exit at once
// (fn must be quick: it kills, it does not wait). It returns a function that unregisters
// it. Without a SignalContext in ctx it does nothing.
func OnForcedExit(ctx context.Context, fn func()) (remove func()) {
	h, ok := ctx.Value(exitHooksKey{}).(*exitHooks)
	if !ok {
		return func() {}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func(){}
	}
	id := h.n
	h.n++
	h.fns[id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.fns, id)
	}
}
