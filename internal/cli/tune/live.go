package tune

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	coretune "github.com/mlops-dev/mlops/internal/tune"
	"github.com/mlops-dev/mlops/internal/tune/report"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// progress shows a run's events on stderr: on a terminal a table of the running and latest
// trials redrawn in place with the best so far; otherwise one plain line per event (logs).
type progress struct {
	w       io.Writer
	tty     bool
	quiet   bool
	objs    []study.Objective
	start   time.Time
	trials  map[int]study.Trial
	best    *study.Trial
	counts  study.Counts
	drawn   int // lines of the last drawing
	message string
}

const liveRows = 12

func newProgress(ios *cmdutil.IOStreams, objs []study.Objective) *progress {
	return &progress{w: ios.ErrOut, tty: ios.IsStderrTTY(), quiet: ios.Quiet, objs: objs, start: time.Now(), trials: map[int]study.Trial{}}
}

func (p *progress) event(e coretune.Event) {
	if p.quiet {
		return
	}
	switch e.Kind {
	case coretune.EventStarted:
		p.trials[e.Trial.Number] = e.Trial
		if !p.tty {
			retry := ""
			if e.Trial.RetryOf != nil {
				retry = fmt.Sprintf(" (retry of lost trial %d)", *e.Trial.RetryOf)
			}
			fmt.Fprintf(p.w, "trial %d started%s: %s\n", e.Trial.Number, retry, report.FormatParams(e.Trial.Params))
		}
	case coretune.EventFinished:
		p.trials[e.Trial.Number] = e.Trial
		p.counts = e.Counts
		if e.Best != nil {
			p.best = e.Best
		}
		if !p.tty {
			fmt.Fprintf(p.w, "trial %d %s in %.1fs: %s%s\n", e.Trial.Number, e.Trial.State, e.Trial.Duration, outcome(p.objs, &e.Trial), p.bestText())
		}
	case coretune.EventLost:
		p.trials[e.Trial.Number] = e.Trial
		p.say(fmt.Sprintf("trial %d lost: %s; its slot is retried", e.Trial.Number, e.Trial.Message))
	case coretune.EventWaiting, coretune.EventWarning:
		p.say(e.Message)
	}
	if p.tty {
		p.draw()
	}
}

func (p *progress) say(msg string) {
	if p.tty {
		p.message = msg
		return
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) bestText() string {
	if p.best == nil {
		return ""
	}
	return fmt.Sprintf(" (best: trial %d, %s)", p.best.Number, report.FormatValues(p.objs, p.best))
}

// outcome is the values of a complete trial, or why it did not complete.
func outcome(objs []study.Objective, t *study.Trial) string {
	if t.State == study.Complete {
		return report.FormatValues(objs, t)
	}
	msg := t.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// draw redraws the live block in place.
func (p *progress) draw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF\x1b[J", p.drawn)
	}
	lines := []string{fmt.Sprintf("trials: %s   elapsed %s", countsText(p.counts), time.Since(p.start).Round(time.Second))}
	if p.best != nil {
		lines = append(lines, fmt.Sprintf("best:   trial %d  %s  %s", p.best.Number, report.FormatValues(p.objs, p.best), report.FormatParams(p.best.Params)))
	}
	nums := make([]int, 0, len(p.trials))
	for n := range p.trials {
		nums = append(nums, n)
	}
	// Running trials first, then the most recent finished ones.
	sort.Slice(nums, func(a, c int) bool {
		ta, tc := p.trials[nums[a]], p.trials[nums[c]]
		if (ta.State == study.Running) != (tc.State == study.Running) {
			return ta.State == study.Running
		}
		return nums[a] > nums[c]
	})
	if len(nums) > liveRows {
		nums = nums[:liveRows]
	}
	lines = append(lines, fmt.Sprintf("%-6s %-9s %-40s %s", "TRIAL", "STATE", "RESULT", "PARAMETERS"))
	for _, n := range nums {
		t := p.trials[n]
		res := outcome(p.objs, &t)
		if t.State == study.Running {
			res = fmt.Sprintf("running %s", time.Since(t.Started).Round(time.Second))
		}
		lines = append(lines, fmt.Sprintf("%-6d %-9s %-40s %s", n, t.State, clip(res, 40), clip(report.FormatParams(t.Params), 60)))
	}
	if p.message != "" {
		lines = append(lines, p.message)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	p.drawn = len(lines)
	_, _ = io.WriteString(p.w, b.String()) // a progress display has no one to report to
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
