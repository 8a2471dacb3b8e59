package retrain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// run is the state of one Run call.
type run struct {
	req        *Request
	rt         *runtime.Runtime
	be         compute.Backend
	src        *onnx.Model
	train, val *dataset
	eng        *engine
	mode       string
	valRaw     *dataset   // the validation rows as the model takes them (head mode swaps val for features)
	full       *fullGraph // whole-graph mode
	bn         []bnStat   // BatchNormalization statistics the run updates
	write      []string   // initializers written back (trainable + BN statistics)
	loss       lossSpec
	report     *Report
	ckpt       *checkpointer
}

// Run trains req.Model on req.Train and writes the result to req.Output.
// rt (ONNX Runtime) is needed for --trainable head and for a --teacher
// model; it may be nil otherwise. Cancelling ctx stops at the next batch:
// the last complete checkpoint stays and nothing is written to Output.
func Run(ctx context.Context, rt *runtime.Runtime, req Request) (*Report, error) {
	start := time.Now()
	if req.Trainable == "" {
		req.Trainable = TrainAll
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	src, err := onnx.Load(req.Model)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if err := src.SortTopologically(); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Model, err)
	}
	if err := checkExternalData(src); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Model, err)
	}
	r := &run{req: &req, rt: rt, src: src, be: req.Backend}
	if r.be == nil {
		if r.be, err = defaultBackend(); err != nil {
			return nil, err
		}
	}
	r.loss = lossSpec{kind: req.Hyper.Loss, smoothing: req.Hyper.LabelSmoothing, distill: req.distilling(),
		alpha: req.Hyper.Alpha, temp: req.Hyper.Temperature, labels: !(req.distilling() && req.Hyper.Alpha == 1)}
	r.report = &Report{Model: req.Model, Output: req.Output, Hyperparameters: req.Hyper.Map(), Distilled: req.distilling(),
		Epochs: []EpochStats{}}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if err := r.loop(ctx); err != nil {
		return nil, err
	}
	r.report.Seconds = time.Since(start).Seconds()
	return r.report, nil
}

// prepare loads the data and builds the engine for the chosen mode.
func (r *run) prepare(ctx context.Context) error {
	inputs, err := modelInputs(r.src)
	if err != nil {
		return err
	}
	if r.train, r.val, err = loadData(ctx, r.req, inputs); err != nil {
		return err
	}
	// Teacher logits come from the raw inputs, before head mode swaps them
	// for features.
	if r.req.distilling() {
		if err := r.teacherLogits(ctx); err != nil {
			return err
		}
	}
	if r.req.ValSplit > 0 {
		if r.train, r.val, err = r.train.split(r.req.ValSplit, r.req.Hyper.Seed); err != nil {
			return err
		}
	}
	r.valRaw = r.val
	if r.req.Trainable == TrainHead {
		err = r.prepareHead(ctx)
	} else {
		err = r.prepareFull(inputs)
	}
	if err != nil {
		return err
	}
	if err := r.checkShapes(); err != nil {
		return err
	}
	r.report.TrainRows = r.train.Rows
	if r.val != nil {
		r.report.ValRows = r.val.Rows
	}
	r.report.Trainable = r.eng.names
	for _, v := range r.eng.vars {
		r.report.TrainableParams += int64(v.Shape().Size())
	}
	if r.req.CheckpointDir != "" {
		r.ckpt = &checkpointer{dir: r.req.CheckpointDir, fingerprint: r.fingerprint()}
	}
	return nil
}

// checkShapes runs the model once on the first rows to learn its output
// shape, then checks labels and teacher logits against it.
func (r *run) checkShapes() error {
	n := min(r.req.Hyper.BatchSize, r.train.Rows)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	out, _, err := r.evaluateOutput(r.train, idx, true)
	if err != nil {
		return err
	}
	dims := out.Shape().Dimensions
	if len(dims) == 0 || dims[0] != n {
		return fmt.Errorf("the model output %v has no batch dimension; retrain needs one row of output per input row", dims)
	}
	perRow := out.Shape().Size() / n
	if r.loss.kind == LossCrossEntropy && (len(dims) != 2 || dims[1] < 2) {
		return fmt.Errorf("--loss cross_entropy needs class scores of shape [batch, classes]; the model gives %v (use --loss bce or mse)", dims)
	}
	for _, ds := range []*dataset{r.train, r.val} {
		if ds == nil {
			continue
		}
		if err := checkLabels(ds, r.loss, perRow, ds == r.val); err != nil {
			return err
		}
		if ds.teacher != nil && ds.k != perRow {
			return fmt.Errorf("the teacher gives %d logits per row but the student %d: teacher and student must score the same classes", ds.k, perRow)
		}
	}
	return nil
}

// loop trains epoch by epoch and writes the result.
func (r *run) loop(ctx context.Context) error {
	h := &r.req.Hyper
	steps := (r.train.Rows + h.BatchSize - 1) / h.BatchSize
	total := steps * h.Epochs
	st := &trainState{bestEpoch: 0, bestLoss: math.Inf(1)}
	if r.req.Resume {
		var err error
		if st, err = r.ckpt.load(r); err != nil {
			return err
		}
		r.report.Epochs = append(r.report.Epochs, st.history...)
		r.report.ResumedFrom = st.epoch
	} else if r.req.Reinit {
		if err := reinitialize(r.src, r.eng.store, r.eng.names, r.bnToReset(), h.Seed); err != nil {
			return err
		}
	}
	if err := r.precompile(); err != nil {
		return err
	}
	if st.epoch >= h.Epochs {
		return fmt.Errorf("the checkpoint in %s has already done %d epochs; ask for more with --epochs", r.req.CheckpointDir, st.epoch)
	}
	for epoch := st.epoch; epoch < h.Epochs; epoch++ {
		es, err := r.epoch(ctx, epoch, steps, total, st)
		if err != nil {
			return err
		}
		st.epoch = epoch + 1
		r.report.Epochs = append(r.report.Epochs, es)
		st.history = append(st.history, es)
		improved := es.ValLoss != nil && *es.ValLoss < st.bestLoss
		if improved || es.ValLoss == nil {
			st.bestEpoch = epoch + 1
			if es.ValLoss != nil {
				st.bestLoss = *es.ValLoss
			}
			st.bad = 0
			if h.EarlyStopping > 0 {
				if st.best, err = readWeights(r.eng.store, r.write); err != nil {
					return err
				}
			}
		} else {
			st.bad++
		}
		if r.ckpt != nil {
			if err := r.ckpt.save(ctx, r, st); err != nil {
				return err
			}
		}
		stop := h.EarlyStopping > 0 && st.bad >= h.EarlyStopping
		if stop {
			r.report.Stopped = "early_stopping"
		}
		if r.req.OnEpoch != nil {
			if err := r.req.OnEpoch(es); errors.Is(err, ErrStop) {
				stop, r.report.Stopped = true, "callback"
			} else if err != nil {
				return err
			}
		}
		if stop {
			break
		}
	}
	r.report.BestEpoch = st.bestEpoch
	w, wrote := st.best, st.bestEpoch
	if h.EarlyStopping == 0 || w == nil {
		var err error
		if w, err = readWeights(r.eng.store, r.write); err != nil {
			return err
		}
		wrote = st.epoch
	}
	r.report.WroteEpoch = wrote
	if r.req.Output == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := saveWithWeights(ctx, r.src, w, r.req.Output); err != nil {
		return err
	}
	if r.req.Evaluate || r.req.Champion != "" {
		ev, err := r.finalEvaluation(ctx)
		if err != nil {
			return fmt.Errorf("final evaluation of %s: %w", r.req.Output, err)
		}
		r.report.Evaluation = ev
	}
	return nil
}

// trainState is what a checkpoint restores besides the weights.
type trainState struct {
	epoch     int // epochs completed
	bestEpoch int
	bestLoss  float64
	bad       int // epochs since the best
	history   []EpochStats
	best      weights // best epoch's weights (early stopping only)
}

// epoch runs one pass over the training data and the validation.
func (r *run) epoch(ctx context.Context, epoch, steps, total int, st *trainState) (EpochStats, error) {
	h := &r.req.Hyper
	start := time.Now()
	perm := data.Shuffle(r.train.Rows, h.Seed, epoch)
	var sum float64
	var lr float64
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return EpochStats{}, err
		}
		idx := perm[s*h.BatchSize : min((s+1)*h.BatchSize, r.train.Rows)]
		t := epoch*steps + s
		lr = learningRate(h, t, total, steps)
		loss, err := r.trainStep(idx, lr, t+1)
		if err != nil {
			return EpochStats{}, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return EpochStats{}, r.divergence(loss, epoch, s, steps, t)
		}
		sum += loss * float64(len(idx))
		if r.req.OnStep != nil {
			r.req.OnStep(epoch+1, s+1, steps, loss)
		}
	}
	secs := time.Since(start).Seconds()
	es := EpochStats{Epoch: epoch + 1, TrainLoss: sum / float64(r.train.Rows), LR: lr, Seconds: secs,
		SamplesPerS: float64(r.train.Rows) / math.Max(secs, 1e-9)}
	if r.val != nil {
		vl, acc, err := r.validate(ctx)
		if err != nil {
			return EpochStats{}, err
		}
		es.ValLoss, es.ValAccuracy = vl, acc
	}
	return es, nil
}

// divergence is the error of a non-finite loss.
func (r *run) divergence(loss float64, epoch, step, steps, t int) error {
	where := "no checkpoint was written (use --checkpoint-dir to keep one per epoch)"
	if r.ckpt != nil && epoch > 0 {
		where = fmt.Sprintf("the last good checkpoint is epoch %d in %s", epoch, r.req.CheckpointDir)
	} else if r.ckpt != nil {
		where = "it happened in the first epoch, before any checkpoint"
	}
	return fmt.Errorf("the training loss became %v at epoch %d, step %d of %d (optimizer step %d): "+
		"lower --lr (now %g), add --warmup, or check the data for extreme values; nothing was written to the output; %s",
		loss, epoch+1, step+1, steps, t+1, r.req.Hyper.LR, where)
}

// trainStep runs one optimizer step on the rows idx and returns the loss.
func (r *run) trainStep(idx []int, lr float64, t int) (float64, error) {
	args, err := batchArgs(r.train, idx, r.eng.labels, r.eng.teacher)
	if err != nil {
		return 0, err
	}
	args = append(args, stepScalars(lr, t)...)
	outs, err := r.eng.step.Call(args...)
	if err != nil {
		return 0, fmt.Errorf("training step %d: %w", t, err)
	}
	defer finalize(outs)
	return scalarValue(outs[0]), nil
}

// precompile builds the training step before the first step, so a graph
// without gradients fails now, with the op named.
func (r *run) precompile() error {
	n := min(r.req.Hyper.BatchSize, r.train.Rows)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	args, err := batchArgs(r.train, idx, r.eng.labels, r.eng.teacher)
	if err != nil {
		return err
	}
	args = append(args, stepScalars(r.req.Hyper.LR, 1)...)
	err = r.eng.checkStep(args)
	if err == nil {
		return nil
	}
	if r.mode == ModeFull && r.full != nil {
		if d := r.full.diagnose(r.be, r.eng.store, args, r.eng.names); d != nil {
			return d
		}
	}
	return fmt.Errorf("the training step cannot be built (%s); train the final layer only with --trainable head", shortCause(err))
}

// evaluate runs the model on rows idx of ds and returns its output and the
// per-row loss (nil when the loss cannot be computed for ds).
func (r *run) evaluate(ds *dataset, idx []int) (*tensors.Tensor, *tensors.Tensor, error) {
	return r.evaluateOutput(ds, idx, false)
}

// evaluateOutput is evaluate, computing only the output when outputOnly is
// set or when ds lacks what the loss needs.
func (r *run) evaluateOutput(ds *dataset, idx []int, outputOnly bool) (*tensors.Tensor, *tensors.Tensor, error) {
	complete := !outputOnly && (!r.eng.labels || ds.Labels != nil) && (!r.eng.teacher || ds.teacher != nil)
	args, err := batchArgs(ds, idx, r.eng.labels && complete, r.eng.teacher && complete)
	if err != nil {
		return nil, nil, err
	}
	var outs []*tensors.Tensor
	err = catch(func() error {
		var e error
		outs, e = r.eng.eval.Call(args...)
		return e
	})
	if err != nil {
		return nil, nil, fmt.Errorf("the training backend cannot run the model (%s); train the final layer only with --trainable head, which runs the body in ONNX Runtime", shortCause(err))
	}
	if len(outs) == 1 {
		return outs[0], nil, nil
	}
	return outs[0], outs[1], nil
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.FinalizeAll()
	}
}

// checkExternalData reads where every external initializer lives (mapped, not copied), so a
// missing or truncated data file is reported as the model's problem before training, not from
// inside the backend that loads the weights.
func checkExternalData(m *onnx.Model) error {
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if !onnx.IsExternal(t) {
			continue
		}
		if _, err := onnx.RawBytes(m, t); err != nil {
			return err
		}
	}
	return nil
}
