package retrain

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/gomlx/compute"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// ErrStop (returned by Request.OnEpoch) ends training after that epoch as
// early stopping does: the run succeeds and writes its model (a tuner
// pruning a trial returns it too).
var ErrStop = errors.New("stop training")

// Request is one training run.
type Request struct {
	Model  string // the model to train: a local .onnx file
	Output string // where the trained model is written (temp file + rename); "" writes none

	Train    data.Spec  // training data; Inputs is filled in from the model
	Val      *data.Spec // validation data, or nil
	ValSplit float64    // hold out this share of Train for validation when Val is nil

	Hyper         Hyperparameters
	Trainable     string // "all" (default), "head" or a regular expression over initializer names
	UpdateBNStats bool   // BatchNormalization normalises with batch statistics and updates its running ones
	Reinit        bool   // start from a fresh seeded initialization instead of the model's weights

	Teacher       string // teacher model (.onnx) for distillation; its logits come from ONNX Runtime
	TeacherLogits string // or precomputed teacher logits: a .npy of [rows, classes]

	CheckpointDir string // write a checkpoint after every epoch here
	Resume        bool   // continue from the last complete checkpoint in CheckpointDir

	Session runtime.SessionOptions // ONNX Runtime sessions (teacher, head features, evaluation)

	// Evaluate scores the written model with ONNX Runtime on the validation
	// rows (eval's metrics) into Report.Evaluation; with Champion (a local
	// .onnx, shown as ChampionName) also the champion, the comparison and
	// the Gates (reference name "champion").
	Evaluate     bool
	Champion     string
	ChampionName string
	Gates        []gate.Expr

	// OnEpoch receives every epoch's figures; returning ErrStop ends the run
	// after this epoch, any other error fails it.
	OnEpoch func(EpochStats) error
	// OnStep reports progress within an epoch (for a progress bar).
	OnStep func(epoch, step, steps int, loss float64)

	// Backend runs the training graph; nil means mlops' pure-Go backend.
	Backend compute.Backend
}

// NeedsRuntime reports whether the run uses ONNX Runtime: head features, a
// teacher's logits, or the final evaluation.
func (r *Request) NeedsRuntime() bool {
	return r.Trainable == TrainHead || r.Teacher != "" || r.Evaluate || r.Champion != ""
}

// distilling reports whether a teacher takes part.
func (r *Request) distilling() bool { return r.Teacher != "" || r.TeacherLogits != "" }

// check validates the request before any data is read.
func (r *Request) check() error {
	if r.Model == "" {
		return errors.New("no model to train")
	}
	return r.Validate()
}

// Validate checks what can be checked without reading the model or the
// data: the flags' values and how they combine. Its errors name the flag to
// change; the CLI calls it before any work so they are usage errors.
func (r *Request) Validate() error {
	if err := r.Hyper.Validate(); err != nil {
		return err
	}
	if r.Train.Path == "" {
		return errors.New("--data is required: the training inputs (.npy, .npz, .csv, .jsonl or .parquet)")
	}
	if r.Teacher != "" && r.TeacherLogits != "" {
		return errors.New("--teacher and --teacher-logits both give teacher logits: pass one")
	}
	hasLabels := r.Train.LabelsPath != "" || r.Train.LabelColumn != ""
	if !hasLabels && !(r.distilling() && r.Hyper.Alpha == 1) {
		if r.distilling() {
			return fmt.Errorf("labels are required with --alpha %v (the label loss weighs %v): pass --labels, or --alpha 1 to learn from the teacher alone", r.Hyper.Alpha, 1-r.Hyper.Alpha)
		}
		return errors.New("labels are required: pass --labels FILE or --label-column NAME (or distil from a --teacher with --alpha 1)")
	}
	if r.distilling() && r.Hyper.Loss != LossCrossEntropy {
		return fmt.Errorf("distillation matches class distributions: use --loss cross_entropy, not %s", r.Hyper.Loss)
	}
	if r.Trainable != "" && r.Trainable != TrainAll && r.Trainable != TrainHead {
		if _, err := regexp.Compile(r.Trainable); err != nil {
			return fmt.Errorf("--trainable %q is neither all, head nor a valid regular expression: %v", r.Trainable, err)
		}
	}
	if !(r.ValSplit >= 0 && r.ValSplit < 1) {
		return fmt.Errorf("--val-split must lie in [0, 1), got %v", r.ValSplit)
	}
	if r.ValSplit > 0 && r.Val != nil {
		return errors.New("--val-split and --val-data both give validation data: pass one")
	}
	if r.Resume && r.CheckpointDir == "" {
		return errors.New("--resume needs --checkpoint-dir: the folder of the run to continue")
	}
	if (r.Evaluate || r.Champion != "") && r.Val == nil && r.ValSplit == 0 {
		return errors.New("the evaluation against the champion runs on validation data: give --val-data or --val-split")
	}
	if len(r.Gates) > 0 && r.Champion == "" {
		return errors.New("gates compare with a champion: give one")
	}
	if r.Hyper.EarlyStopping > 0 && r.Val == nil && r.ValSplit == 0 {
		return errors.New("--early-stopping watches the validation loss: give --val-data or --val-split")
	}
	return nil
}
