// Package prune implements `mlops prune`: magnitude pruning of an ONNX model,
// unstructured, N:M or structured, with an accuracy check and search.
package prune

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/optimize/prune"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// PruneOptions are the inputs of `mlops prune`.
type PruneOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Runtime func() (*runtime.Runtime, error)

	Input, Output string
	Force         bool

	Sparsity      float64
	sparsitySet   bool
	Scope         string
	Criterion     string
	Pattern       string
	Structured    bool
	OpTypes       []string
	ExcludeNodes  []string
	MinParams     int64
	SparseStorage bool

	Threads           int
	cmdutil.DataFlags // --data/--labels: accuracy before and after
	MaxDrop           float64
}

// NewCmdPrune builds `mlops prune`.
func NewCmdPrune(f *cmdutil.Factory, runF func(*PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{IO: f.IO, Format: f.OutputFormat, Runtime: func() (*runtime.Runtime, error) {
		if f.Runtime == nil {
			return nil, errors.New("ONNX Runtime is not configured")
		}
		return f.Runtime()
	}}
	cmd := &cobra.Command{
		Use:   "prune <model.onnx> -o <out.onnx>",
		Short: "Prune an ONNX model's weights by magnitude",
		Long: `Prune the weights of an ONNX model by magnitude, in the model file itself.

Unstructured (default): zero the --sparsity fraction of weights with the
smallest magnitude, per layer (--scope layer) or with one threshold over all
selected layers (--scope global: the rule of PyTorch's
prune.global_unstructured with L1Unstructured; k = round(sparsity × n)).
--pattern N:M zeroes the N smallest of every M consecutive weights along each
layer's input dimension (2:4 is what sparse tensor cores accelerate).

--structured removes whole Conv output channels and Gemm/MatMul neurons with
the smallest --criterion norm, and rewrites everything that indexes them: the
next layer's input channels (also across Flatten), BatchNormalization
parameters, biases and constant Add/Mul operands, through Relu/Clip/pooling
and other element-wise ops. The graph gets genuinely smaller. A group whose
dependents cannot be followed (Reshape, Concat, a residual Add, a graph
output) is kept intact and listed with the reason.

Only weights are touched: the initializer feeding the weight input of the
selected --op-types (directly or through Identity/Transpose); never biases,
BatchNorm statistics, shape constants or quantization parameters.

--sparse-storage writes pruned weights as ONNX sparse initializers (values and
int64 indices) when that is smaller; ONNX Runtime expands them on load. It
pays off above about 67% sparsity for float32 weights.

--data (with --labels or --label-column) measures accuracy before and after,
through eval: labels are checked as eval checks them before any pruning. The
data flags are the same as eval's (docs/data.md); --eval-data and
--eval-labels still work. --max-drop D searches by bisection for the largest sparsity (up to
--sparsity, or 0.99 if not given) whose accuracy drop stays within D, and
writes that model.

The report (table, or --output json) lists each layer's parameters, sparsity
before/after and share of norm retained, totals, file bytes, and FLOPs of
Conv/Gemm/MatMul at batch size 1 before and after. The output is written to a
temporary file and renamed into place: nothing is left at -o on failure.`,
		Example: `  mlops prune mlp.onnx -o mlp.pruned.onnx --sparsity 0.8 --scope global
  mlops prune mlp.onnx -o mlp.24.onnx --pattern 2:4
  mlops prune cnn.onnx -o cnn.small.onnx --structured --sparsity 0.5 --output json
  mlops prune mlp.onnx -o best.onnx --scope global --max-drop 0.01 \
      --data x_test.npy --labels y_test.npy`,
		Args: cmdutil.ExactArgs(1, "a model file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			opts.sparsitySet = cmd.Flags().Changed("sparsity")
			if runF != nil {
				return runF(opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.AddOutFlag(fl, &opts.Output, "output model path (required)")
	fl.Float64Var(&opts.Sparsity, "sparsity", 0.5, "fraction of weights (or channels with --structured) to remove, in [0, 1)")
	fl.StringVar(&opts.Scope, "scope", core.ScopeLayer, "layer (each tensor to the target) or global (one threshold)")
	fl.StringVar(&opts.Criterion, "criterion", core.CriterionL1, "l1 or l2 (the channel norm for --structured)")
	fl.StringVar(&opts.Pattern, "pattern", core.PatternUnstructured, "unstructured or N:M, e.g. 2:4")
	fl.BoolVar(&opts.Structured, "structured", false, "remove whole output channels/neurons")
	fl.StringSliceVar(&opts.OpTypes, "op-types", core.DefaultOpTypes(), "op types whose weights are pruned")
	fl.StringSliceVar(&opts.ExcludeNodes, "exclude-nodes", nil, "node names to leave alone")
	fl.Int64Var(&opts.MinParams, "min-params", 0, "skip weight tensors with fewer elements")
	fl.BoolVar(&opts.SparseStorage, "sparse-storage", false, "store pruned weights as ONNX sparse initializers when smaller")
	opts.DataFlags.AddFlags(fl, cmdutil.DataFlagsConfig{
		Data:    "labelled data to measure accuracy on before and after",
		Limit:   "measure on the first N rows of --data only (0: all)",
		Aliases: map[string]string{"eval-data": "data", "eval-labels": "labels"},
	})
	fl.Float64Var(&opts.MaxDrop, "max-drop", 0, "search the largest sparsity whose accuracy drop stays within this (needs --data)")
	fl.IntVar(&opts.Threads, "threads", 0, "ONNX Runtime intra-op threads (0: one per core)")
	fl.BoolVar(&opts.Force, "force", false, "replace the output file if it exists (a regular file only: devices, FIFOs and links are refused)")
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, cmdutil.ModelExts...)
	cmdutil.CompleteFiles(fl, "out", cmdutil.ModelExts...)
	cmdutil.CompleteEnum(cmd, "scope", "layer", "global")
	cmdutil.CompleteEnum(cmd, "criterion", "l1", "l2")
	cmdutil.CompleteEnum(cmd, "pattern", "unstructured", "2:4", "4:8")
	cmdutil.CompleteEnum(cmd, "op-types", "Gemm", "MatMul", "Conv")
	return cmd
}

// Request turns the parsed flags into the core request; errors are usage errors.
// tune's in-process trials call it, so a trial means exactly what the command means.
func (o *PruneOptions) Request() (core.Request, error) {
	req := core.Request{Input: o.Input, Output: o.Output, SparseStorage: o.SparseStorage, MaxDrop: o.MaxDrop}
	if o.Output == "" {
		return req, cmdutil.FlagErrorf("give the output path with -o OUT.onnx")
	}
	sparsity := o.Sparsity
	if _, isNM, err := core.ParsePattern(o.Pattern); err != nil {
		return req, cmdutil.FlagErrorf("--pattern: %v", err)
	} else if isNM && o.sparsitySet {
		return req, cmdutil.FlagErrorf("--sparsity does not apply to --pattern %s: the pattern fixes the share of zeros", o.Pattern)
	}
	if o.MaxDrop > 0 && !o.sparsitySet {
		sparsity = 0 // search the whole range
	}
	req.Options = core.Options{
		Sparsity: sparsity, Scope: o.Scope, Criterion: o.Criterion, Pattern: o.Pattern, Structured: o.Structured,
		OpTypes: o.OpTypes, ExcludeNodes: o.ExcludeNodes, MinParams: o.MinParams,
	}
	if err := req.Options.Validate(); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	if err := o.DataFlags.Validate(true); err != nil {
		return req, err
	}
	if o.MaxDrop != 0 && o.Data == "" {
		return req, cmdutil.FlagErrorf("--max-drop needs --data (with --labels) to measure accuracy")
	}
	if o.Data != "" && !o.HasLabels() {
		return req, cmdutil.FlagErrorf("--data needs labels to measure accuracy: pass --labels FILE or --label-column NAME")
	}
	if !(o.MaxDrop >= 0 && o.MaxDrop < 1) {
		return req, cmdutil.FlagErrorf("--max-drop %v is outside [0, 1): give the largest accuracy loss to accept, e.g. 0.01", o.MaxDrop)
	}
	if err := cmdutil.NotNegative(cmdutil.Flag("threads", o.Threads)); err != nil {
		return req, err
	}
	req.Eval = o.Spec()
	req.Session = runtime.SessionOptions{IntraOpThreads: o.Threads}
	return req, nil
}

func pruneRun(ctx context.Context, o *PruneOptions) error {
	format, err := o.Format()
	if err != nil {
		return err
	}
	req, err := o.Request()
	if err != nil {
		return err
	}
	if err := cmdutil.CheckInput(req.Input); err != nil {
		return err
	}
	if err := cmdutil.CheckModelOutput("--out", req.Output, o.Force); err != nil {
		return err
	}
	var rt *runtime.Runtime
	if req.Eval.Path != "" {
		if rt, err = o.Runtime(); err != nil {
			return err
		}
	}
	o.IO.Statusf("pruning %s", req.Input)
	var search *cmdutil.StepProgress
	if req.MaxDrop > 0 {
		search = cmdutil.NewStepProgress(o.IO, core.MaxSearchSteps, "searching the sparsity")
		req.Progress = func(st core.SearchStep) {
			search.Step("sparsity %.3f: accuracy %.4f (drop %.4f)", st.Sparsity, st.Accuracy, st.Drop)
		}
	}
	rep, err := core.Run(ctx, rt, req)
	if search != nil {
		search.Finish()
	}
	if errors.Is(err, core.ErrNothingToPrune) && rep != nil {
		// A clear no-op: say what was looked at and why nothing qualified.
		if format == cmdutil.FormatJSON {
			_ = cmdutil.PrintJSON(o.IO, rep)
		} else {
			printSkipped(o.IO, rep)
		}
		return fmt.Errorf("%w; nothing was written", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return &cmdutil.CancelError{Err: err}
		}
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(o.IO, rep)
	}
	return printReport(o.IO, rep, req.Output)
}
