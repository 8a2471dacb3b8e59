// Package quantize implements `mlops quantize`: int8 quantization of an ONNX
// model (dynamic, or static with calibration) with a report of what changed.
package quantize

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/optimize/calib"
	"github.com/mlops-dev/mlops/internal/optimize/quant"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// QuantizeOptions are the inputs of `mlops quantize`.
type QuantizeOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Runtime func() (*runtime.Runtime, error)

	Input, Output string
	Out           string // -o/--out, the same as the OUTPUT argument
	Force         bool

	Mode, QFormat                             string
	WeightType, ActivationType                string
	SymmetricWeights, SymmetricActivations    bool
	ReduceRange                               bool
	PerChannel                                []string
	OpTypes, ExcludeNodes, ExcludeOpTypes     []string
	CalibrationData, CalibrationMethod        string
	Percentile                                float64
	CalibrationBins, CalibrationQuantizedBins int
	CalibrationSamples                        int
	Threads                                   int
	activationTypeSet                         bool
	cmdutil.DataFlags                         // --data/--labels: the comparison data

	// 4-bit weight-only quantization.
	Bits, BlockSize, AccuracyLevel int
	Symmetric                      bool
	Algorithm                      string
	KeepFP                         []string
	modeSet                        bool
}

// NewCmdQuantize builds `mlops quantize`.
func NewCmdQuantize(f *cmdutil.Factory, runF func(*QuantizeOptions) error) *cobra.Command {
	opts := &QuantizeOptions{IO: f.IO, Format: f.OutputFormat, Runtime: f.Runtime}
	cmd := &cobra.Command{
		Use:   "quantize <model.onnx> [<output.onnx> | -o <output.onnx>]",
		Short: "Quantize a float ONNX model to int8 or 4-bit weights",
		Long: `Quantize a float ONNX model (float32, float16 or bfloat16 weights) to
8-bit integers, or its weights to 4 bits, so ONNX Runtime runs it smaller and
usually faster.

--mode dynamic (default) quantizes weights offline and activations at run time:
MatMul and Gemm with a constant weight become ONNX Runtime's fused
DynamicQuantizeMatMul (a following bias Add is folded in), Conv becomes
DynamicQuantizeLinear + ConvInteger, embedding tables (Gather) are stored
int8. No data is needed.

--mode static also quantizes activations, with ranges calibrated on
--calibration-data (.npy, .npz, .csv, .jsonl, .parquet; arrays/columns are
matched to the model's inputs by name). --format qdq (default) wraps Conv,
MatMul and Gemm in QuantizeLinear/DequantizeLinear pairs that ONNX Runtime
fuses into integer kernels; --format qoperator writes QLinearConv,
QLinearMatMul and QGemm directly. Calibration keeps running minimums and
maximums or fixed-size histograms, never the activations, so memory does not
grow with the data.

Nodes inside If/Loop/Scan bodies are quantized in both modes: for static
calibration their activations are routed out of the bodies as extra outputs
(stacked over Loop/Scan iterations, per branch for If). Weights shared by
several nodes or reached through Identity are quantized once; a float copy
stays only while a float node still reads it.
Numerics follow the ONNX operators: round half to even, saturation, zero
point of the quantized type; biases become int32 where the format needs it.

The output (OUTPUT or -o/--out; default: <input>.int8.onnx) is written to a temporary file and
renamed into place; nothing is written when quantization fails. Models with
external data keep using external data.

--bits 4 quantizes weights only, to 4 bits in blocks along the input
dimension (--block-size, default 32), as ONNX Runtime's MatMulNBits
(com.microsoft) runs them: MatMul and Gemm with a constant weight become
MatMulNBits (a bias Add is folded in), embedding Gathers become
GatherBlockQuantized. Activations stay in the model's float type (float32 or
float16; bfloat16 models get Casts around the kernels, which ORT's CPU
provider lacks for bfloat16). --algorithm rtn rounds each block to nearest;
hqq refines zero points and scales without data; gptq uses
--calibration-data to spread each column's rounding error over the columns
not yet quantized. The report lists every layer's reconstruction error
(weight, and output on the calibration data when given). --keep-fp keeps
layers such as the LM head in float.

With --data (and --labels or --label-column) both models run on the data and
the report adds fp32 vs int8 accuracy, top-1 agreement, output cosine and the
SNR of every quantized layer, worst first. Labels are checked as eval checks
them (integer class ids within the model's classes, one per row) before
anything is quantized. The data flags are the same as eval's (docs/data.md);
the shaping flags (--scale, --mean, --std, --reshape, --input-field, ...)
apply to --calibration-data too. --eval-data and --eval-labels still work.`,
		Example: `  # dynamic int8, weights per channel
  mlops quantize bert.onnx bert.int8.onnx --per-channel

  # static QDQ with percentile calibration on 500 samples
  mlops quantize cnn.onnx cnn.int8.onnx --mode static \
      --calibration-data calib.npy --calibration-method percentile --calibration-samples 500

  # 4-bit weights, GPTQ on calibration rows, LM head kept in float
  mlops quantize llm.onnx --bits 4 --algorithm gptq --calibration-data calib.npz --keep-fp 'lm_head*'

  # compare with the float model on labelled data, JSON report
  mlops quantize cnn.onnx --data x_test.npy --labels y_test.npy --output json`,
		Args: cmdutil.RangeArgs(1, 2, "a model to quantize and optionally the output path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			var arg string
			if len(args) > 1 {
				arg = args[1]
			}
			out, err := cmdutil.OutputArg(arg, opts.Out)
			if err != nil {
				return err
			}
			if out == "" {
				out = defaultOutput(args[0], opts.Bits)
			}
			opts.Output = out
			opts.activationTypeSet = cmd.Flags().Changed("activation-type")
			opts.modeSet = cmd.Flags().Changed("mode")
			if runF != nil {
				return runF(opts)
			}
			return quantizeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.AddOutFlag(fl, &opts.Out, "output model path, as the OUTPUT argument (default: <input>.int8.onnx, .int4.onnx with --bits 4)")
	fl.StringVar(&opts.Mode, "mode", "dynamic", "dynamic or static")
	fl.StringVar(&opts.QFormat, "format", "qdq", "static mode output format: qdq or qoperator")
	fl.StringVar(&opts.WeightType, "weight-type", "int8", "weight type: int8 or uint8")
	fl.StringVar(&opts.ActivationType, "activation-type", "uint8", "static mode activation type: uint8 or int8 (dynamic mode is always uint8)")
	fl.BoolVar(&opts.SymmetricWeights, "symmetric-weights", true, "symmetric weight ranges (zero point in the middle)")
	fl.BoolVar(&opts.SymmetricActivations, "symmetric-activations", false, "symmetric activation ranges")
	fl.BoolVar(&opts.ReduceRange, "reduce-range", false, "quantize weights to 7 bits (for CPUs without VNNI that can overflow)")
	fl.StringSliceVar(&opts.PerChannel, "per-channel", nil, "per-channel weight scales: --per-channel for every op type, or --per-channel=Conv,Gemm for some")
	fl.Lookup("per-channel").NoOptDefVal = "all"
	fl.StringSliceVar(&opts.OpTypes, "op-types", nil, "quantize only these op types (default: all the mode supports)")
	fl.StringSliceVar(&opts.ExcludeNodes, "exclude-nodes", nil, "node names to leave in float")
	fl.StringSliceVar(&opts.ExcludeOpTypes, "exclude-op-types", nil, "op types to leave in float")
	fl.StringVar(&opts.CalibrationData, "calibration-data", "", "data file for static calibration (.npy, .npz, .csv, .jsonl, .parquet)")
	fl.StringVar(&opts.CalibrationMethod, "calibration-method", "minmax", "minmax, percentile or entropy")
	fl.Float64Var(&opts.Percentile, "percentile", 99.999, "share of values kept by --calibration-method percentile")
	fl.IntVar(&opts.CalibrationBins, "calibration-bins", 2048, "histogram bins for percentile and entropy")
	fl.IntVar(&opts.CalibrationQuantizedBins, "calibration-quantized-bins", 128, "quantized levels the entropy method assumes")
	fl.IntVar(&opts.CalibrationSamples, "calibration-samples", 0, "use at most this many calibration rows (0: all)")
	opts.DataFlags.AddFlags(fl, cmdutil.DataFlagsConfig{
		Data:    "labelled data to compare the float and quantized models on",
		Limit:   "compare on the first N rows of --data only (0: all)",
		Aliases: map[string]string{"eval-data": "data", "eval-labels": "labels"},
	})
	fl.IntVar(&opts.Threads, "threads", 0, "ONNX Runtime intra-op threads (0: one per core)")
	fl.BoolVar(&opts.Force, "force", false, "replace the output file if it exists (a regular file only: devices, FIFOs and links are refused)")
	fl.IntVar(&opts.Bits, "bits", 8, "8 (the modes above) or 4 (weight-only MatMulNBits, activations stay float)")
	fl.IntVar(&opts.BlockSize, "block-size", quant.DefaultBlockSize, "4-bit block length along the input dimension: 16, 32, 64, 128 or 256")
	fl.BoolVar(&opts.Symmetric, "symmetric", false, "4-bit: no zero points (each block's zero is code 8)")
	fl.StringVar(&opts.Algorithm, "algorithm", "", "4-bit: hqq (default: refined zero points and scales, no data), rtn (round to nearest) or gptq (needs --calibration-data)")
	fl.IntVar(&opts.AccuracyLevel, "accuracy-level", 0, "4-bit: MatMulNBits accuracy_level, 0 (unset) to 4 (int8 activations inside the kernel, fastest on CPU)")
	fl.StringSliceVar(&opts.KeepFP, "keep-fp", nil, "keep nodes whose name, weight or output matches these glob patterns in float (e.g. 'lm_head*')")
	cmd.ValidArgsFunction = cmdutil.FileArgs(2, cmdutil.ModelExts...)
	cmdutil.CompleteFiles(fl, "out", cmdutil.ModelExts...)
	cmdutil.CompleteFiles(fl, "calibration-data", cmdutil.DataExts...)
	cmdutil.CompleteEnum(cmd, "mode", "dynamic", "static")
	cmdutil.CompleteEnum(cmd, "format", "qdq", "qoperator")
	cmdutil.CompleteEnum(cmd, "weight-type", "int8", "uint8")
	cmdutil.CompleteEnum(cmd, "activation-type", "uint8", "int8")
	cmdutil.CompleteEnum(cmd, "calibration-method", "minmax", "percentile", "entropy")
	cmdutil.CompleteEnum(cmd, "bits", "8", "4")
	cmdutil.CompleteEnum(cmd, "block-size", "16", "32", "64", "128", "256")
	cmdutil.CompleteEnum(cmd, "algorithm", "hqq", "rtn", "gptq")
	cmdutil.CompleteEnum(cmd, "accuracy-level", "0", "1", "2", "3", "4")
	return cmd
}

func defaultOutput(in string, bits int) string {
	ext := filepath.Ext(in)
	if bits == 4 {
		return strings.TrimSuffix(in, ext) + ".int4.onnx"
	}
	return strings.TrimSuffix(in, ext) + ".int8.onnx"
}

// Request turns the parsed flags into the core request; errors are usage errors.
// tune's in-process trials call it, so a trial means exactly what the command means.
func (o *QuantizeOptions) Request() (quant.Request, error) {
	var req quant.Request
	wt, err := quant.ParseQType(o.WeightType)
	if err != nil {
		return req, cmdutil.FlagErrorf("--weight-type: %v", err)
	}
	at, err := quant.ParseQType(o.ActivationType)
	if err != nil {
		return req, cmdutil.FlagErrorf("--activation-type: %v", err)
	}
	mode := quant.Mode(o.Mode)
	if o.Bits == 4 {
		if o.modeSet && mode == quant.Static {
			return req, cmdutil.FlagErrorf("--bits 4 is weight-only (activations stay float): drop --mode static")
		}
		alg, err := quant.ParseAlgorithm(o.Algorithm)
		if err != nil {
			return req, cmdutil.FlagErrorf("--algorithm: %v", err)
		}
		if alg == quant.GPTQ && o.CalibrationData == "" {
			return req, cmdutil.FlagErrorf("--algorithm gptq needs --calibration-data FILE (rows of the model's inputs); hqq and rtn need no data")
		}
		mode = quant.Dynamic
		req.Options = quant.Options{Mode: mode, Format: quant.QDQ, Bits: 4, BlockSize: o.BlockSize, Symmetric4: o.Symmetric,
			Algorithm: alg, AccuracyLevel: o.AccuracyLevel, OpTypes: o.OpTypes, ExcludeNodes: o.ExcludeNodes,
			ExcludeOpTypes: o.ExcludeOpTypes, KeepFP: o.KeepFP}
		if err := req.Options.Validate(); err != nil {
			return req, cmdutil.FlagErrorf("%v", err)
		}
		return o.finish(req)
	}
	if o.Algorithm != "" {
		return req, cmdutil.FlagErrorf("--algorithm %s applies to --bits 4; 8-bit weights are rounded to nearest", o.Algorithm)
	}
	if mode == quant.Dynamic && o.activationTypeSet && at != quant.Uint8 {
		return req, cmdutil.FlagErrorf("--activation-type %s: dynamic mode always quantizes activations to uint8; use --mode static", o.ActivationType)
	}
	if mode == quant.Static && o.CalibrationData == "" {
		return req, cmdutil.FlagErrorf("--mode static needs --calibration-data FILE (.npy, .npz, .csv, .jsonl or .parquet rows matching the model's inputs)")
	}
	if mode == quant.Dynamic && o.CalibrationData != "" {
		return req, cmdutil.FlagErrorf("--calibration-data is used by --mode static only")
	}
	req.Options = quant.Options{
		Mode: mode, Format: quant.Format(o.QFormat), WeightType: wt, ActivationType: at,
		SymmetricWeights: o.SymmetricWeights, SymmetricActivations: o.SymmetricActivations, ReduceRange: o.ReduceRange,
		PerChannel: o.PerChannel, OpTypes: o.OpTypes, ExcludeNodes: o.ExcludeNodes, ExcludeOpTypes: o.ExcludeOpTypes,
		KeepFP: o.KeepFP, Bits: o.Bits,
	}
	if err := req.Options.Validate(); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	return o.finish(req)
}

// finish fills the data, calibration and session parts of a request.
func (o *QuantizeOptions) finish(req quant.Request) (quant.Request, error) {
	co := calib.Options{Method: calib.Method(o.CalibrationMethod), Percentile: o.Percentile,
		Bins: o.CalibrationBins, QuantizedBins: o.CalibrationQuantizedBins}
	if err := co.Validate(); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	if err := o.DataFlags.Validate(true); err != nil {
		return req, err
	}
	if err := cmdutil.NotNegative(cmdutil.Flag("calibration-samples", o.CalibrationSamples), cmdutil.Flag("threads", o.Threads)); err != nil {
		return req, err
	}
	req.Input, req.Output = o.Input, o.Output
	// Calibration rows are shaped like --data but carry no labels.
	req.Calibration = o.SpecFor(o.CalibrationData, "")
	req.Calibration.LabelColumn, req.Calibration.Limit = "", o.CalibrationSamples
	req.CalibrationOpts = quant.CalibrationOptions{Collector: co, MaxSamples: o.CalibrationSamples}
	req.Eval = o.Spec()
	req.Session = runtime.SessionOptions{IntraOpThreads: o.Threads}
	return req, nil
}

func quantizeRun(ctx context.Context, o *QuantizeOptions) error {
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
	if err := cmdutil.CheckModelOutput("OUTPUT", req.Output, o.Force); err != nil {
		return err
	}
	var rt *runtime.Runtime
	if req.Options.Mode == quant.Static || req.Eval.Path != "" || req.Calibration.Path != "" {
		if rt, err = o.Runtime(); err != nil {
			return err
		}
	} else if req.Options.Bits == 4 {
		// Not needed to quantize, but when installed it tells whether it
		// has the 4-bit kernels.
		if r, err := o.Runtime(); err == nil {
			rt = r
		}
	}
	if req.Options.Bits == 4 {
		o.IO.Statusf("quantizing %s (4-bit %s, block %d)", req.Input, req.Options.Algorithm, req.Options.BlockSize)
	} else {
		o.IO.Statusf("quantizing %s (%s)", req.Input, req.Options.Mode)
	}
	var finish func()
	req.Progress, finish = cmdutil.DataProgress(o.IO)
	rep, err := quant.Run(ctx, rt, req)
	finish()
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(o.IO, rep)
	}
	return printTable(o.IO, rep)
}
