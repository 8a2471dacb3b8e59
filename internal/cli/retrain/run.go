package retrain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
	core "github.com/mlops-dev/mlops/internal/retrain"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// request turns flags into a core request; errors are usage errors.
func (o *RetrainOptions) request() (core.Request, error) {
	req := core.Request{
		Output: o.Output, Hyper: o.Hyper, Trainable: o.Trainable, UpdateBNStats: o.UpdateBNStats, Reinit: o.Reinit,
		TeacherLogits: o.TeacherLogits, CheckpointDir: o.CheckpointDir, Resume: o.Resume, ValSplit: o.ValSplit,
		Session: runtime.SessionOptions{IntraOpThreads: o.Threads},
	}
	if o.Output == "" {
		return req, cmdutil.FlagErrorf("give the output path with -o OUT.onnx")
	}
	if o.Data == "" {
		return req, cmdutil.FlagErrorf("--data is required: the training inputs (.npy, .npz, .csv, .jsonl or .parquet)")
	}
	if err := o.DataFlags.Validate(false); err != nil {
		return req, err
	}
	if o.Threads < 0 {
		return req, cmdutil.FlagErrorf("--threads must not be negative")
	}
	gates, err := o.PushFlags.Gates()
	if err != nil {
		return req, err
	}
	if err := o.Hyper.Validate(); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	req.Gates = gates
	if o.Champion != "" && o.ValData == "" && o.ValSplit == 0 {
		return req, cmdutil.FlagErrorf("--champion is compared on validation data: give --val-data or --val-split")
	}
	req.Train = o.spec(o.Data, o.Labels, o.Limit)
	if o.ValData != "" {
		v := o.spec(o.ValData, o.ValLabels, 0)
		req.Val = &v
	}
	req.Teacher, req.Champion = o.Teacher, o.Champion // as the run sets them, for the checks
	if err := req.Validate(); err != nil {
		return req, &cmdutil.FlagError{Err: err}
	}
	return req, nil
}

func retrainRun(ctx context.Context, o *RetrainOptions) error {
	format, err := o.Format()
	if err != nil {
		return err
	}
	if _, err := o.request(); err != nil {
		return err // usage errors before the output is looked at
	}
	if err := checkOutput(o.Output, o.Force); err != nil {
		return err
	}
	req, parent, err := o.Prepare(ctx)
	if err != nil {
		return err
	}
	var rt *runtime.Runtime
	if req.NeedsRuntime() {
		if o.Runtime == nil {
			return errors.New("ONNX Runtime is not configured")
		}
		if rt, err = o.Runtime(); err != nil {
			return err
		}
	}
	// With labelled validation data the output is evaluated as `mlops eval`
	// would (ONNX Runtime); training itself does not need ONNX Runtime, so
	// without it the evaluation is skipped with a note.
	if !req.Evaluate && (req.Val != nil || req.ValSplit > 0) && (o.HasLabels() || o.ValLabels != "") {
		if rt == nil && o.Runtime != nil {
			if r, rerr := o.Runtime(); rerr == nil {
				rt = r
			} else {
				o.IO.Statusf("note: no final evaluation of %s (ONNX Runtime: %v)", o.Output, rerr)
			}
		}
		req.Evaluate = rt != nil
	}
	pr := newProgress(o.IO, format)
	req.OnStep = pr.step
	req.OnEpoch = func(es core.EpochStats) error {
		pr.epochDone(es)
		return nil
	}
	o.IO.Statusf("training %s", o.Model)
	rep, err := core.Run(ctx, rt, req)
	pr.finish()
	if err != nil {
		if ctx.Err() != nil {
			msg := "nothing was written"
			if o.CheckpointDir != "" {
				msg = "the last complete checkpoint is in " + o.CheckpointDir + " (continue with --resume)"
			}
			return &cmdutil.CancelError{Err: fmt.Errorf("%w; %s", err, msg)}
		}
		return err
	}
	out := report{Report: rep, PeakRSSBytes: peakRSS()}
	if o.Push != "" {
		if out.Push, err = o.publish(ctx, rep, parent); err != nil {
			return fmt.Errorf("%s was written but the push failed: %w", o.Output, err)
		}
	}
	if format == cmdutil.FormatJSON {
		if err := cmdutil.PrintJSON(o.IO, out); err != nil {
			return err
		}
	} else {
		if err := printSummary(o.IO, rep, out.PeakRSSBytes); err != nil {
			return err
		}
		if err := cmdutil.PrintEvaluation(o.IO, rep.Evaluation, "retrained"); err != nil {
			return err
		}
		if out.Push != nil {
			cmdutil.PrintPush(o.IO, out.Push)
		}
	}
	return o.GateFailed(out.Push, rep.Evaluation)
}

// Prepare turns the parsed flags into a core request: the flags checked (usage
// errors), --checkpoint-dir's folder checked, MODEL, --teacher and --champion
// resolved to local files (registry references pulled into the cache). The
// manifest is MODEL's when it was a registry reference. tune's retrain: trials
// call it on the options NewCmdRetrain parsed, so every flag means what it
// means here.
func (o *RetrainOptions) Prepare(ctx context.Context) (core.Request, *registry.Manifest, error) {
	req, err := o.request()
	if err != nil {
		return req, nil, err
	}
	if err := cmdutil.CheckOutputDir("--checkpoint-dir", o.CheckpointDir); err != nil {
		return req, nil, err
	}
	var parent *registry.Manifest
	if req.Model, parent, err = o.resolve(ctx, o.Model); err != nil {
		return req, nil, err
	}
	if o.Teacher != "" {
		if req.Teacher, _, err = o.resolve(ctx, o.Teacher); err != nil {
			return req, nil, fmt.Errorf("--teacher: %w", err)
		}
	}
	if o.Push != "" {
		req.Evaluate = req.Val != nil || req.ValSplit > 0
	}
	if o.Champion != "" {
		if req.Champion, _, err = o.resolve(ctx, o.Champion); err != nil {
			return req, nil, fmt.Errorf("--champion: %w", err)
		}
		req.ChampionName = o.Champion
	}
	return req, parent, nil
}

// checkOutput refuses to overwrite without --force and checks the folder
// exists before any training starts.
func checkOutput(path string, force bool) error {
	return cmdutil.CheckModelOutput("--out", path, force)
}

// resolve turns a model argument into a local file (a path, or a registry
// reference pulled into the user cache).
func (o *RetrainOptions) resolve(ctx context.Context, arg string) (string, *registry.Manifest, error) {
	return cmdutil.ResolveModel(ctx, o.Factory, o.Registry, arg)
}

// progress shows a bar per epoch on a terminal and one line per epoch
// otherwise (on stdout for tables, stderr for JSON so stdout stays JSON).
type progress struct {
	io     *cmdutil.IOStreams
	json   bool
	bar    *progressbar.ProgressBar
	epoch  int
	last   time.Time
	useBar bool
}

func newProgress(s *cmdutil.IOStreams, format cmdutil.Format) *progress {
	return &progress{io: s, json: format == cmdutil.FormatJSON, useBar: s.IsStderrTTY() && !s.Quiet}
}

func (p *progress) step(epoch, step, steps int, loss float64) {
	if !p.useBar {
		return
	}
	if p.bar == nil || p.epoch != epoch {
		p.epoch = epoch
		p.bar = progressbar.NewOptions(steps,
			progressbar.OptionSetWriter(p.io.ErrOut),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d", epoch)),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("step"),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionEnableColorCodes(p.io.ColorEnabled()))
	}
	if time.Since(p.last) > 200*time.Millisecond || step == steps {
		p.bar.Describe(fmt.Sprintf("epoch %d  loss %.4f", epoch, loss))
		p.last = time.Now()
	}
	_ = p.bar.Set(step)
}

func (p *progress) epochDone(es core.EpochStats) {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	line := epochLine(es)
	if p.json {
		p.io.Statusf("%s", line)
		return
	}
	fmt.Fprintln(p.io.Out, line)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
