// Package retrain implements `mlops retrain`: fine-tune or distil an ONNX
// model in Go on new data, and hand the result to the registry as a
// challenger that is promoted only when it beats the champion.
package retrain

import (
	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/data"
	core "github.com/mlops-dev/mlops/internal/retrain"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// RetrainOptions are the inputs of `mlops retrain`.
type RetrainOptions struct {
	IO      *cmdutil.IOStreams
	Format  func() (cmdutil.Format, error)
	Runtime func() (*runtime.Runtime, error)
	Factory *cmdutil.Factory

	Model, Output string
	Force         bool
	Registry      string

	cmdutil.DataFlags // --data, --labels, --val-data, preprocessing, --limit (shared with eval)
	ValSplit          float64

	Hyper         core.Hyperparameters
	Trainable     string
	UpdateBNStats bool
	Reinit        bool
	Teacher       string
	TeacherLogits string
	CheckpointDir string
	Resume        bool
	Threads       int

	cmdutil.PushFlags // --push, --alias, --champion, --promote-if (shared with tune)
}

// NewCmdRetrain builds `mlops retrain`.
func NewCmdRetrain(f *cmdutil.Factory, runF func(*RetrainOptions) error) *cobra.Command {
	opts := &RetrainOptions{IO: f.IO, Format: f.OutputFormat, Runtime: f.Runtime, Factory: f, Hyper: core.DefaultHyperparameters()}
	cmd := &cobra.Command{
		Use:   "retrain <model.onnx|NAME[@REF]> --data X --labels Y -o OUT.onnx",
		Short: "Fine-tune or distil an ONNX model in Go and push it as a challenger",
		Long: `Train an ONNX model on new data, in Go, with no Python: the graph becomes a
differentiable gomlx graph, its float initializers train, and the trained
values are written back into the same ONNX model. Every node, name, opset,
metadata prop and the external-data layout are kept; only initializer
values change.

Frozen by default: non-float initializers, single-value constants
(epsilons, scales), shape and axes inputs, and BatchNormalization running
statistics (--update-bn-stats normalises with batch statistics and updates
them, as torch's train mode does). --trainable all (default) trains every
other float initializer; a regular expression trains the initializers it
names; head trains only the final Gemm/MatMul(+Add) layer on features that
ONNX Runtime computes, which works for any model ONNX Runtime runs, even one
the training backend cannot differentiate. Before the first step every op on
the path from the loss to a trainable weight is checked for a gradient; the
first one without is named.

Data (--data, --labels or --label-column) goes through the same data layer
as eval: .npy, .npz, CSV, JSONL or Parquet, with --scale/--mean/--std and
--reshape. Validation data comes from --val-data/--val-labels or a seeded
--val-split of the training rows; each epoch reports its validation loss and
accuracy, and --early-stopping N stops after N epochs without a lower
validation loss and writes the best epoch's weights.

Losses: cross_entropy (class ids; on the logits before a final Softmax),
bce (0/1 targets; on the logits before a final Sigmoid), mse. Optimizers:
sgd, momentum (0.9), adam, adamw (decoupled --weight-decay); schedules:
constant, cosine (to 0 at the last step), step (×0.1 at half and three
quarters of the epochs), after --warmup steps of linear warm-up.

Distillation: --teacher MODEL (ONNX Runtime computes its logits; any op set)
or --teacher-logits FILE.npy. The loss is Hinton's
  alpha·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−alpha)·CE(student, labels)
so --alpha 1 learns from the teacher alone (labels optional: unlabelled data
works) and --alpha 0 ignores the teacher. --reinit starts the student from a
fresh seeded initialization instead of its weights.

Training is deterministic: the same seed and data on the same machine give
bit-identical weights. --checkpoint-dir DIR keeps the last complete epoch
(the model and the optimizer state); --resume continues bit-identically.
Ctrl-C leaves the last complete checkpoint and exits 130; the output is
written to a temporary file and renamed, never half-written.

MODEL and --teacher may be registry references (NAME, NAME@VERSION,
NAME@ALIAS). --push NAME stores the trained model as a new version with its
validation metrics and lineage (parent, data sha256, hyperparameters, mlops
version). When a --promote-if gate fails, the version is pushed, the alias is
not moved and the command exits 3.`,
		Example: `  # fine-tune the Fashion-MNIST MLP for two epochs, validating on the test split
  mlops retrain testdata/fmnist/mlp.onnx --data x_train.npy --labels y_train.npy \
      --val-data testdata/fmnist/x_test.npy --val-labels testdata/fmnist/y_test.npy \
      --epochs 2 --batch-size 128 --lr 1e-3 -o mlp.tuned.onnx

  # drift repair: one epoch on the new data, cosine schedule, checkpoints
  mlops retrain fmnist@production --data shifted_x.npy --labels shifted_y.npy --val-split 0.1 \
      --lr-schedule cosine --warmup 50 --checkpoint-dir ckpt/ -o repaired.onnx

  # train only the final layer (works for any model ONNX Runtime can run)
  mlops retrain cnn.onnx --trainable head --data x.npy --labels y.npy -o cnn.head.onnx

  # distil a CNN into a freshly initialised MLP, without labels
  mlops retrain mlp.onnx --reinit --teacher cnn.onnx --alpha 1 --temperature 4 \
      --data x_unlabelled.npy --epochs 3 -o student.onnx

  # JSON per epoch for scripts
  mlops retrain mlp.onnx --data x.npy --labels y.npy -o out.onnx --output json | jq '.epochs[].val_accuracy'`,
		Args: cmdutil.ExactArgs(1, "a model to train"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if runF != nil {
				return runF(opts)
			}
			return retrainRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	h := &opts.Hyper
	cmdutil.AddOutFlag(fl, &opts.Output, "output model path (required)")
	fl.BoolVar(&opts.Force, "force", false, "overwrite the output file if it exists")
	opts.DataFlags.AddFlags(fl, cmdutil.DataFlagsConfig{Data: "training data", Labels: "training labels",
		Limit: "train on the first N rows of --data only (0: all)", Validation: true, NoBatchSize: true})
	fl.Float64Var(&opts.ValSplit, "val-split", 0, "hold out this seeded share of --data for validation, e.g. 0.1")

	fl.IntVar(&h.Epochs, "epochs", h.Epochs, "passes over the training data")
	fl.IntVar(&h.BatchSize, "batch-size", h.BatchSize, "rows per optimizer step")
	fl.Float64Var(&h.LR, "lr", h.LR, "peak learning rate")
	fl.StringVar(&h.Optimizer, "optimizer", h.Optimizer, "sgd, momentum, adam or adamw")
	fl.Float64Var(&h.WeightDecay, "weight-decay", h.WeightDecay, "L2 penalty (decoupled for adamw)")
	fl.StringVar(&h.LRSchedule, "lr-schedule", h.LRSchedule, "constant, cosine or step")
	fl.IntVar(&h.Warmup, "warmup", h.Warmup, "optimizer steps of linear learning-rate warm-up")
	fl.StringVar(&h.Loss, "loss", h.Loss, "cross_entropy, bce or mse")
	fl.Float64Var(&h.LabelSmoothing, "label-smoothing", h.LabelSmoothing, "cross-entropy label smoothing in [0, 1)")
	fl.IntVar(&h.EarlyStopping, "early-stopping", h.EarlyStopping, "stop after this many epochs without a lower validation loss (0: off)")
	fl.Uint64Var(&h.Seed, "seed", h.Seed, "seed of shuffling, --val-split and --reinit")
	fl.Float64Var(&h.Temperature, "temperature", h.Temperature, "distillation temperature T")
	fl.Float64Var(&h.Alpha, "alpha", h.Alpha, "weight of the distillation term (1: teacher only, 0: labels only)")

	fl.StringVar(&opts.Trainable, "trainable", core.TrainAll, "all, head, or a regular expression over initializer names")
	fl.BoolVar(&opts.UpdateBNStats, "update-bn-stats", false, "BatchNormalization uses batch statistics and updates its running ones")
	fl.BoolVar(&opts.Reinit, "reinit", false, "start from a fresh seeded initialization")
	fl.StringVar(&opts.Teacher, "teacher", "", "teacher model (file or registry reference) to distil from")
	fl.StringVar(&opts.TeacherLogits, "teacher-logits", "", "precomputed teacher logits: .npy [rows, classes] for the rows of --data")
	fl.StringVar(&opts.CheckpointDir, "checkpoint-dir", "", "write a checkpoint (model + optimizer state) after every epoch")
	fl.BoolVar(&opts.Resume, "resume", false, "continue from the last complete checkpoint in --checkpoint-dir")
	fl.IntVar(&opts.Threads, "threads", 0, "ONNX Runtime intra-op threads for the teacher and head features (0: one per core)")
	fl.StringVar(&opts.Registry, "registry", "", "registry for references and --push (also: MLOPS_REGISTRY, config key registry)")
	opts.PushFlags.AddFlags(fl, "the trained model")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefAny, true)
	cmdutil.CompleteFiles(fl, "out", cmdutil.ModelExts...)
	cmdutil.CompleteFiles(fl, "teacher-logits", "npy")
	cmdutil.CompleteModelRefs(f, cmd, "teacher", true)
	cmdutil.CompleteModelRefs(f, cmd, "champion", false)
	cmdutil.CompleteModelRefs(f, cmd, "push", false)
	cmdutil.CompleteEnum(cmd, "optimizer", "sgd", "momentum", "adam", "adamw")
	cmdutil.CompleteEnum(cmd, "loss", "cross_entropy", "bce", "mse")
	cmdutil.CompleteEnum(cmd, "lr-schedule", "constant", "cosine", "step")
	cmdutil.CompleteEnum(cmd, "trainable", "all", "head")
	return cmd
}

// spec is the data request of one file pair. Training reads the whole
// file into memory, in large chunks.
func (o *RetrainOptions) spec(path, labels string, limit int) data.Spec {
	s := o.SpecFor(path, labels)
	s.Limit, s.BatchSize = limit, 1024
	return s
}
