package cmdutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM,
// so the running command can stop cleanly (remove temp files, close
// sessions). A second signal calls exit(ExitInterrupted) at once, for a user
// who does not want to wait. stop releases the signal handler.
func SignalContext(parent context.Context, errOut io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(errOut, "\n%s: stopping (press Ctrl-C again to exit now)\n", sig)
			cancel(&CancelError{Err: fmt.Errorf("interrupted by %s", sig)})
		case <-done:
			return
		}
		select {
		case <-ch:
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
