package retrain

import "github.com/mlops-dev/mlops/internal/eval"

// EpochStats are the figures of one epoch. Validation fields are null
// without validation data (and val_accuracy without class labels).
type EpochStats struct {
	Epoch       int      `json:"epoch"` // 1-based
	TrainLoss   float64  `json:"train_loss"`
	ValLoss     *float64 `json:"val_loss"`
	ValAccuracy *float64 `json:"val_accuracy"`
	LR          float64  `json:"lr"` // learning rate of the epoch's last step
	Seconds     float64  `json:"seconds"`
	SamplesPerS float64  `json:"samples_per_s"`
}

// Report describes a finished run. JSON field names are a contract.
type Report struct {
	Model           string            `json:"model"`
	Output          string            `json:"output,omitempty"`
	Mode            string            `json:"mode"` // "full" (the whole graph) or "head" (final layer on ONNX Runtime features)
	Trainable       []string          `json:"trainable"`
	TrainableParams int64             `json:"trainable_params"`
	Frozen          int               `json:"frozen_initializers"`
	TrainRows       int               `json:"train_rows"`
	ValRows         int               `json:"val_rows"`
	Distilled       bool              `json:"distilled"`
	Hyperparameters map[string]string `json:"hyperparameters"`
	Epochs          []EpochStats      `json:"epochs"`
	BestEpoch       int               `json:"best_epoch"`             // lowest val_loss (the last epoch without validation)
	Stopped         string            `json:"stopped,omitempty"`      // "early_stopping" or "callback" when the run ended before --epochs
	ResumedFrom     int               `json:"resumed_from,omitempty"` // epochs already done by the checkpoint resumed from
	WroteEpoch      int               `json:"wrote_epoch"`            // the epoch whose weights are in Output
	Seconds         float64           `json:"seconds"`
	Evaluation      *eval.Report      `json:"evaluation,omitempty"` // with Request.Evaluate: mlops eval's report
}

// Mode names.
const (
	ModeFull = "full"
	ModeHead = "head"
)
