// Package inspect implements `mlops inspect MODEL`: a description of an ONNX
// model (IR version, opsets, inputs and outputs, operators, parameters,
// external data, metadata) read without touching tensor bytes, and with
// --check the structural checker's findings.
package inspect

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/onnx"
)

// InspectOptions are the inputs of `mlops inspect`.
type InspectOptions struct {
	IO     *cmdutil.IOStreams
	Format func() (cmdutil.Format, error)

	Model string // path of the .onnx file
	Check bool
}

// NewCmdInspect builds `mlops inspect`.
func NewCmdInspect(f *cmdutil.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IO, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe an ONNX model: inputs, outputs, operators, parameters",
		Long: `Describe an ONNX model without running it and without reading tensor data,
so it is quick even for models with gigabytes of external weights:

  - IR version, producer, model domain and version, opset per domain
  - inputs and outputs with element type and shape (symbolic dimensions by name)
  - node count and operator histogram, counting nodes inside If/Loop/Scan
    subgraphs (and reporting those separately)
  - initializers: count, parameters and bytes per element type
  - external data files and metadata properties

With --check, also run the structural checker (every input defined before
use, single assignment, opsets imported, initializer data matching type and
shape, graph inputs/outputs declared) and exit 1 when it finds problems.

--output json prints one object; its fields are stable: path, domain,
ir_version, producer_name, producer_version, model_version, graph_name,
opsets (domain → version), inputs and outputs (name, dtype, shape: integers
for fixed, names for symbolic, null for unknown dimensions), nodes,
subgraph_nodes, op_types, subgraph_op_types, functions, parameters,
initializers, initializer_bytes, bytes_by_dtype, external_data (location,
bytes, tensors), metadata_props, and check (ok, problems) with --check.`,
		Example: `  mlops inspect testdata/fmnist/mlp.onnx
  mlops inspect model.onnx --check
  mlops inspect model.onnx --output json | jq .parameters`,
		Args: cmdutil.ExactArgs(1, "the MODEL to inspect"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "run the structural checker; exit 1 if it finds problems")
	cmd.ValidArgsFunction = cmdutil.FileArgs(1, cmdutil.ModelExts...)
	return cmd
}

func inspectRun(opts *InspectOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	m, err := onnx.Load(opts.Model)
	if err != nil {
		return err
	}
	defer m.Close()

	r := newReport(opts.Model, m)
	if opts.Check {
		r.Check = &CheckResult{OK: true, Problems: []Problem{}}
		if err := onnx.Check(m); err != nil {
			var ce *onnx.CheckError
			if !errors.As(err, &ce) {
				return fmt.Errorf("check %s: %w", opts.Model, err)
			}
			r.Check.OK = false
			for _, p := range ce.Problems {
				r.Check.Problems = append(r.Check.Problems, Problem{Path: p.Path, Message: p.Message})
			}
		}
	}

	if format == cmdutil.FormatJSON {
		err = cmdutil.PrintJSON(opts.IO, r)
	} else {
		err = render(opts.IO, r)
	}
	if err != nil {
		return err
	}
	if r.Check != nil && !r.Check.OK {
		return fmt.Errorf("%s: the checker found %d problem(s) (listed above)", opts.Model, len(r.Check.Problems))
	}
	return nil
}
