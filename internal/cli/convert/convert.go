// Package convert implements `mlops convert`: export from PyTorch or
// TensorFlow with a parity check, and ONNX→ONNX reshaping (fp16,
// optimisation, fixed dims, metadata, weights, external data).
package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/export"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// ConvertOptions are the inputs of `mlops convert`.
type ConvertOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Runtime func() (*runtime.Runtime, error)
	// LookPath finds the default Python (exec.LookPath in production).
	LookPath func(string) (string, error)

	Input, Out string
	From       string
	Force      bool

	// framework export
	Python, ModelClass string
	Inputs, DynAxes    []string
	Opset              int
	Tolerance          float64
	toleranceSet       bool
	Seed               uint64

	// ONNX steps
	FP16, KeepIOTypes    bool
	BlockOps, BlockNodes []string
	Optimize             bool
	ExternalData, Inline bool
	ExternalThreshold    int64
	FixDims, Meta        []string
	ExportW, ImportW     string
	NoVerify             bool
}

// NewCmdConvert builds `mlops convert`.
func NewCmdConvert(f *cmdutil.Factory, runF func(*ConvertOptions) error) *cobra.Command {
	opts := &ConvertOptions{IO: f.IO, Format: f.OutputFormat, Runtime: f.Runtime, LookPath: exec.LookPath}
	cmd := &cobra.Command{
		Use:   "convert <model> -o <out.onnx>",
		Short: "Export a PyTorch/TensorFlow model to ONNX, or reshape an ONNX model",
		Long: `Bring a trained model into ONNX and reshape it for deployment.

From PyTorch (--from pytorch, the default for .pt/.pth files): a TorchScript
file, a whole pickled module, or a state dict with --model-class
package.module:Class is exported by torch.onnx.export in your own Python
(--python, else python3 on PATH); mlops embeds the helper script and installs
nothing. Each --input NAME:1x3x224x224[:dtype] gives a traced input;
--dynamic-axis NAME:AXIS makes an axis symbolic. mlops then runs PyTorch and
ONNX Runtime on the same seeded inputs (and, with dynamic axes, on a second
set with those axes grown) and reports the largest absolute and relative error
per output. Beyond --tolerance (default 1e-4) the command exits 3 and writes
nothing. --from tensorflow drives tf2onnx the same way (SavedModel folder or
.keras file) when tensorflow and tf2onnx are importable.

ONNX steps run in this fixed order:
  1. export (PyTorch/TensorFlow input only) and parity check
  2. --import-weights FILE.safetensors  replace initializers (names, types
     and shapes must match)
  3. --fix-dim NAME=VALUE               fix symbolic dimensions
  4. --opset N (ONNX input)             upgrade the default-domain opset,
     rewriting Clip, Pad, Slice, TopK, Squeeze/Unsqueeze, Split, Reduce*,
     Dropout, Softmax/LogSoftmax/Hardmax, BatchNormalization, Scatter,
     Upsample -> Resize and Resize-10; unconvertible ops are listed;
     downgrades are refused (the same opset is a no-op)
  5. --optimize                         Identity/Dropout removal, constant
     folding through ONNX Runtime, Conv+BatchNormalization, Conv+Add/Mul,
     MatMul+Add -> Gemm, dead nodes, unused and duplicate initializers
  6. --fp16                             float32 -> float16, values clamped to
     ±65504; --keep-io-types keeps float32 inputs/outputs with Casts;
     --block-ops replaces the default list of ops kept in float32,
     --block-nodes adds node names
  7. --meta KEY=VALUE                   metadata_props
  8. --export-weights FILE.safetensors  write initializers
  9. verify: with --opset, --optimize or --fp16, input and output models run on seeded
     inputs through ONNX Runtime; the report gives the deviation, and an
     explicit --tolerance turns it into a gate (exit 3, nothing written)
  10. save to -o/--out: --external-data moves tensors of at least
     --external-threshold bytes to OUT.data, --inline stores everything in
     the model file; by default a model keeps external data if it had it

-o is written through a temporary file and renamed, so a failed conversion
leaves nothing behind. --output json prints the report (fields: input,
output, steps, nodes_before, nodes_after, bytes_before, bytes_after,
dims_fixed, opset, meta_set, optimize, fp16, weights_imported, weights_exported,
deviation, max_abs_error, parity).`,
		Example: `  # PyTorch state dict, dynamic batch, parity-checked
  mlops convert resnet.pt --from pytorch --model-class models:ResNet18 \
      --input input:1x3x224x224 --dynamic-axis input:0 --opset 17 -o resnet.onnx

  # half precision with float32 inputs/outputs, optimised first
  mlops convert model.onnx --optimize --fp16 --keep-io-types -o model.fp16.onnx

  # fix the batch size, add metadata, move weights to model.onnx.data
  mlops convert model.onnx --fix-dim batch=1 --meta owner=vision -o b1.onnx --external-data

  # upgrade an opset-9 model to opset 17 (outputs compared through ORT)
  mlops convert old.onnx --opset 17 -o new.onnx

  # weights out and back in
  mlops convert model.onnx --export-weights w.safetensors
  mlops convert model.onnx --import-weights tuned.safetensors -o tuned.onnx`,
		Args: cmdutil.ExactArgs(1, "a model to convert"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			opts.toleranceSet = cmd.Flags().Changed("tolerance")
			if runF != nil {
				return runF(opts)
			}
			return convertRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.AddOutFlag(fl, &opts.Out, "output ONNX file")
	fl.StringVar(&opts.From, "from", "", "input format: onnx, pytorch or tensorflow (default: from the file name)")
	fl.BoolVar(&opts.Force, "force", false, "replace the output files if they exist (regular files only: devices, FIFOs and links are refused)")
	fl.StringVar(&opts.Python, "python", "", "Python interpreter with torch (or tensorflow+tf2onnx) (default: python3 on PATH)")
	fl.StringVar(&opts.ModelClass, "model-class", "", "package.module:Class to load a state dict into (constructed without arguments)")
	fl.StringArrayVar(&opts.Inputs, "input", nil, "traced input NAME:1x3x224x224[:float32] (repeatable, in forward() order)")
	fl.StringArrayVar(&opts.DynAxes, "dynamic-axis", nil, "NAME:AXIS to export as a symbolic dimension (repeatable)")
	fl.IntVar(&opts.Opset, "opset", 0, "exports: the opset the exporter targets; ONNX input: upgrade to this opset")
	fl.Float64Var(&opts.Tolerance, "tolerance", 1e-4, "largest absolute output error accepted by the parity check")
	fl.Uint64Var(&opts.Seed, "seed", 1, "seed of the parity and verification inputs")
	fl.BoolVar(&opts.FP16, "fp16", false, "convert float32 weights and computation to float16")
	fl.BoolVar(&opts.KeepIOTypes, "keep-io-types", false, "with --fp16: keep float32 graph inputs and outputs")
	fl.StringSliceVar(&opts.BlockOps, "block-ops", export.DefaultFP16BlockList(), "with --fp16: op types kept in float32")
	fl.StringSliceVar(&opts.BlockNodes, "block-nodes", nil, "with --fp16: node names kept in float32")
	fl.BoolVar(&opts.Optimize, "optimize", false, "fold constants and fuse/remove nodes (outputs stay equal within float tolerance)")
	fl.BoolVar(&opts.ExternalData, "external-data", false, "store large tensors in OUT.data next to the model")
	fl.Int64Var(&opts.ExternalThreshold, "external-threshold", onnx.DefaultExternalThreshold, "smallest tensor (bytes) moved by --external-data")
	fl.BoolVar(&opts.Inline, "inline", false, "store every tensor inside the model file")
	fl.StringArrayVar(&opts.FixDims, "fix-dim", nil, "NAME=VALUE: fix a symbolic dimension (repeatable)")
	fl.StringArrayVar(&opts.Meta, "meta", nil, "KEY=VALUE metadata property (repeatable)")
	fl.StringVar(&opts.ExportW, "export-weights", "", "write initializers to this .safetensors file")
	fl.StringVar(&opts.ImportW, "import-weights", "", "replace initializers by the tensors of this .safetensors file")
	fl.BoolVar(&opts.NoVerify, "no-verify", false, "skip running both models to measure the deviation of --optimize/--fp16")
	cmdutil.CompleteFiles(fl, "out", cmdutil.ModelExts...)
	cmdutil.CompleteFiles(fl, "export-weights", "safetensors")
	cmdutil.CompleteFiles(fl, "import-weights", "safetensors")
	cmdutil.CompleteEnum(cmd, "from", "onnx", "pytorch", "tensorflow")
	return cmd
}

// request turns flags into a core request; errors are usage errors.
func (o *ConvertOptions) request() (export.Request, error) {
	req := export.Request{Input: o.Input, Output: o.Out, ImportWeights: o.ImportW, ExportWeights: o.ExportW,
		Optimize: o.Optimize, FP16: o.FP16, Seed: o.Seed}
	from := o.From
	if from == "" {
		from = guessFrom(o.Input)
	}
	if o.Out == "" && o.ExportW == "" {
		return req, cmdutil.FlagErrorf("say where to write the result: -o/--out FILE.onnx (or --export-weights FILE alone)")
	}
	if o.ExternalData && o.Inline {
		return req, cmdutil.FlagErrorf("--external-data and --inline exclude each other")
	}
	if o.ExternalThreshold < 0 {
		return req, cmdutil.FlagErrorf("--external-threshold must not be negative")
	}
	if !o.FP16 {
		if name := cmdutil.FirstGiven(cmdutil.Given{Name: "--keep-io-types", Set: o.KeepIOTypes}, cmdutil.Given{Name: "--block-nodes", Set: len(o.BlockNodes) > 0}); name != "" {
			return req, cmdutil.FlagErrorf("%s applies to --fp16 only: add --fp16 or drop it", name)
		}
	}
	if o.Tolerance <= 0 {
		return req, cmdutil.FlagErrorf("--tolerance must be positive")
	}
	var err error
	if req.FixDims, err = export.ParseKeyValues(o.FixDims, "--fix-dim"); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	if req.Meta, err = export.ParseKeyValues(o.Meta, "--meta"); err != nil {
		return req, cmdutil.FlagErrorf("%v", err)
	}
	req.FP16Options = export.FP16Options{KeepIOTypes: o.KeepIOTypes, BlockOps: o.BlockOps, BlockNodes: o.BlockNodes}
	if req.FP16Options.BlockOps == nil {
		req.FP16Options.BlockOps = []string{}
	}
	switch {
	case o.ExternalData:
		req.Save = onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: o.ExternalThreshold}
	case o.Inline:
		req.Save = onnx.SaveOptions{External: onnx.ExternalNever}
	}
	req.Verify = (o.Optimize || o.FP16 || (o.Opset != 0 && from == "onnx")) && !o.NoVerify
	if o.toleranceSet && from == "onnx" {
		if !req.Verify {
			return req, cmdutil.FlagErrorf("--tolerance on an ONNX input gates the deviation of --opset/--optimize/--fp16; add one of them (and drop --no-verify)")
		}
		req.Tolerance = o.Tolerance
	}
	switch from {
	case "onnx":
		if name := cmdutil.FirstGiven(cmdutil.Given{Name: "--input", Set: len(o.Inputs) > 0}, cmdutil.Given{Name: "--dynamic-axis", Set: len(o.DynAxes) > 0}, cmdutil.Given{Name: "--model-class", Set: o.ModelClass != ""}, cmdutil.Given{Name: "--python", Set: o.Python != ""}); name != "" {
			return req, cmdutil.FlagErrorf("%s applies to exports (--from pytorch or tensorflow), not to an ONNX input", name)
		}
		if o.Opset < 0 {
			return req, cmdutil.FlagErrorf("--opset must be positive")
		}
		req.Opset = int64(o.Opset)
	case "pytorch", "tensorflow":
		if o.ModelClass != "" && from == "tensorflow" {
			return req, cmdutil.FlagErrorf("--model-class applies to --from pytorch")
		}
		fr := &export.FrameworkRequest{Framework: from, Python: o.Python, ModelClass: o.ModelClass,
			Opset: o.Opset, Seed: o.Seed, Tolerance: o.Tolerance, DynamicAxes: map[string][]int{}}
		if o.Opset != 0 && (o.Opset < 7 || o.Opset > 23) {
			return req, cmdutil.FlagErrorf("--opset %d: choose an opset between 7 and 23", o.Opset)
		}
		for _, s := range o.Inputs {
			spec, err := export.ParseInputSpec(s)
			if err != nil {
				return req, cmdutil.FlagErrorf("%v", err)
			}
			fr.Inputs = append(fr.Inputs, spec)
		}
		if len(fr.Inputs) == 0 {
			return req, cmdutil.FlagErrorf("--from %s needs --input NAME:SHAPE[:dtype] for every model input, for example --input input:1x3x224x224", from)
		}
		for _, s := range o.DynAxes {
			name, ax, err := export.ParseDynamicAxis(s)
			if err != nil {
				return req, cmdutil.FlagErrorf("%v", err)
			}
			fr.DynamicAxes[name] = append(fr.DynamicAxes[name], ax)
		}
		req.Framework = fr
	default:
		return req, cmdutil.FlagErrorf("--from %q: choose onnx, pytorch or tensorflow", from)
	}
	return req, nil
}

func guessFrom(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pt", ".pth", ".ts", ".torchscript":
		return "pytorch"
	case ".keras", ".h5", ".pb":
		return "tensorflow"
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return "tensorflow"
	}
	return "onnx"
}

func convertRun(ctx context.Context, o *ConvertOptions) error {
	format, err := o.Format()
	if err != nil {
		return err
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	if err := cmdutil.CheckInput(req.Input); err != nil {
		return err
	}
	if req.Output != "" {
		if err := cmdutil.CheckModelOutput("--out", req.Output, o.Force); err != nil {
			return err
		}
	}
	if req.ExportWeights != "" {
		if err := cmdutil.CheckOutput("--export-weights", req.ExportWeights, o.Force); err != nil {
			return err
		}
	}
	if fr := req.Framework; fr != nil && fr.Python == "" {
		py, err := o.LookPath("python3")
		if err != nil {
			return fmt.Errorf("no python3 on PATH to run the %s exporter: pass --python /path/to/python of an environment with %s", fr.Framework, map[string]string{"pytorch": "torch", "tensorflow": "tensorflow and tf2onnx"}[fr.Framework])
		}
		fr.Python = py
	}
	var rt *runtime.Runtime
	if req.Framework != nil || req.FP16 || req.Optimize || req.Verify {
		if rt, err = o.Runtime(); err != nil {
			return err
		}
	}
	o.IO.Statusf("converting %s", req.Input)
	rep, err := export.Run(ctx, rt, req)
	if errors.Is(err, export.ErrParity) {
		if rep != nil {
			_ = printReport(o.IO, format, rep)
		}
		return &cmdutil.GateError{Err: err}
	}
	if err != nil {
		return err
	}
	return printReport(o.IO, format, rep)
}
