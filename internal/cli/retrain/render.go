package retrain

import (
	"fmt"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/retrain"
)

// epochLine is the one-line summary of an epoch.
func epochLine(es core.EpochStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d  train_loss %.4f", es.Epoch, es.TrainLoss)
	if es.ValLoss != nil {
		fmt.Fprintf(&b, "  val_loss %.4f", *es.ValLoss)
	}
	if es.ValAccuracy != nil {
		fmt.Fprintf(&b, "  val_accuracy %.4f", *es.ValAccuracy)
	}
	fmt.Fprintf(&b, "  lr %.3g  %.1fs  %.0f samples/s", es.LR, es.Seconds, es.SamplesPerS)
	return b.String()
}

// printSummary prints what was trained and written, one fact a line.
func printSummary(s *cmdutil.IOStreams, rep *core.Report, rss int64) error {
	line := func(k, v string) { fmt.Fprintf(s.Out, "%-11s %s\n", k, v) }
	fmt.Fprintln(s.Out)
	line("mode", rep.Mode)
	line("trainable", fmt.Sprintf("%d initializers, %d parameters (%d float initializers frozen)", len(rep.Trainable), rep.TrainableParams, rep.Frozen))
	line("rows", fmt.Sprintf("%d train, %d validation", rep.TrainRows, rep.ValRows))
	if rep.ResumedFrom > 0 {
		line("resumed", fmt.Sprintf("after epoch %d", rep.ResumedFrom))
	}
	if rep.Stopped != "" {
		line("stopped", strings.ReplaceAll(rep.Stopped, "_", " "))
	}
	if rep.BestEpoch > 0 && rep.ValRows > 0 {
		line("best epoch", fmt.Sprint(rep.BestEpoch))
	}
	line("output", fmt.Sprintf("%s (weights of epoch %d)", rep.Output, rep.WroteEpoch))
	if rss > 0 {
		line("time", fmt.Sprintf("%.1fs, peak RSS %s", rep.Seconds, cmdutil.HumanBytes(rss)))
	} else {
		line("time", fmt.Sprintf("%.1fs", rep.Seconds))
	}
	return nil
}
