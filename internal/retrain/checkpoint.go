package retrain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/sbinet/npyio/npz"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// A checkpoint folder holds, after every epoch, the model with the weights
// of that epoch (a usable ONNX file), the optimizer state as .npz (one array
// per state variable) and checkpoint.json, written last by rename: a
// checkpoint exists once its JSON does, so an interrupted save leaves the
// previous one intact. Older epochs' files are removed after the new JSON
// is in place.
const checkpointFile = "checkpoint.json"

type checkpointMeta struct {
	Format      int          `json:"format"`
	Fingerprint string       `json:"fingerprint"`
	Epoch       int          `json:"epoch"` // epochs completed
	Model       string       `json:"model"`
	State       string       `json:"state"`
	Best        string       `json:"best,omitempty"` // best epoch's model (early stopping)
	BestEpoch   int          `json:"best_epoch"`
	BestLoss    *float64     `json:"best_val_loss"`
	Bad         int          `json:"epochs_since_best"`
	History     []EpochStats `json:"history"`
}

type checkpointer struct {
	dir         string
	fingerprint string
}

// fingerprint identifies the recipe: a checkpoint resumes only under the
// same model, data, trainable set and hyperparameters (--epochs and
// --early-stopping may change).
func (r *run) fingerprint() string {
	hp := r.req.Hyper.Map()
	delete(hp, "epochs")
	delete(hp, "early_stopping")
	keys := make([]string, 0, len(hp))
	for k := range hp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, hp[k])
	}
	fmt.Fprintf(h, "model=%s\ntrain=%s:%d\nval=%d\ntrainable=%s\nnames=%s\nbn=%v\nreinit=%v\nteacher=%s|%s\n",
		fileID(r.req.Model), fileID(r.req.Train.Path), r.train.Rows, r.report.ValRows, r.req.Trainable,
		strings.Join(r.eng.names, ","), r.req.UpdateBNStats, r.req.Reinit, fileID(r.req.Teacher), fileID(r.req.TeacherLogits))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// fileID is a cheap identity of a file: its absolute path and size.
func fileID(p string) string {
	if p == "" {
		return ""
	}
	abs, _ := filepath.Abs(p)
	st, err := os.Stat(p)
	if err != nil {
		return abs
	}
	return fmt.Sprintf("%s:%d", abs, st.Size())
}

// save writes the checkpoint of the epoch just completed.
func (c *checkpointer) save(ctx context.Context, r *run, st *trainState) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint folder: %w", err)
	}
	prev, _ := c.read()
	tag := fmt.Sprintf("epoch-%04d", st.epoch)
	meta := checkpointMeta{Format: 1, Fingerprint: c.fingerprint, Epoch: st.epoch, Model: tag + ".onnx",
		State: tag + ".state.npz", BestEpoch: st.bestEpoch, Bad: st.bad, History: st.history}
	if !math.IsInf(st.bestLoss, 1) {
		b := st.bestLoss
		meta.BestLoss = &b
	}
	w, err := readWeights(r.eng.store, r.write)
	if err != nil {
		return err
	}
	if err := saveWithWeights(ctx, r.src, w, filepath.Join(c.dir, meta.Model)); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := c.saveState(ctx, r, filepath.Join(c.dir, meta.State)); err != nil {
		return err
	}
	if r.req.Hyper.EarlyStopping > 0 {
		if st.bestEpoch == st.epoch {
			meta.Best = meta.Model
		} else if prev != nil {
			meta.Best = prev.Best
		}
	}
	raw, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.WriteFile(ctx, filepath.Join(c.dir, checkpointFile), raw, true); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if prev != nil {
		keep := map[string]bool{meta.Model: true, meta.State: true, meta.Best: true}
		for _, f := range []string{prev.Model, prev.State, prev.Best} {
			if f != "" && !keep[f] {
				removeModelFiles(filepath.Join(c.dir, f))
			}
		}
	}
	return nil
}

// removeModelFiles deletes a checkpoint file and its external data.
func removeModelFiles(p string) {
	_ = os.Remove(p)
	_ = os.Remove(p + ".data")
}

func (c *checkpointer) read() (*checkpointMeta, error) {
	raw, err := os.ReadFile(filepath.Join(c.dir, checkpointFile))
	if err != nil {
		return nil, err
	}
	var m checkpointMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): remove the folder or start without --resume", filepath.Join(c.dir, checkpointFile), err)
	}
	if m.Format != 1 || m.Epoch < 1 || filepath.Base(m.Model) != m.Model || filepath.Base(m.State) != m.State ||
		(m.Best != "" && filepath.Base(m.Best) != m.Best) {
		return nil, fmt.Errorf("%s is not a checkpoint this version of mlops wrote", filepath.Join(c.dir, checkpointFile))
	}
	return &m, nil
}

// load restores weights, optimizer state and history from the last
// complete checkpoint.
func (c *checkpointer) load(r *run) (*trainState, error) {
	meta, err := c.read()
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--resume: %s holds no checkpoint (no %s)", c.dir, checkpointFile)
	}
	if err != nil {
		return nil, err
	}
	if meta.Fingerprint != c.fingerprint {
		return nil, fmt.Errorf("--resume: the checkpoint in %s was made with another model, data or recipe; "+
			"resume with the same flags (only --epochs and --early-stopping may change) or use a new --checkpoint-dir", c.dir)
	}
	if err := loadWeightsFrom(r, filepath.Join(c.dir, meta.Model)); err != nil {
		return nil, err
	}
	if err := c.loadState(r, filepath.Join(c.dir, meta.State)); err != nil {
		return nil, err
	}
	st := &trainState{epoch: meta.Epoch, bestEpoch: meta.BestEpoch, bestLoss: math.Inf(1), bad: meta.Bad, history: meta.History}
	if meta.BestLoss != nil {
		st.bestLoss = *meta.BestLoss
	}
	if meta.Best != "" && r.req.Hyper.EarlyStopping > 0 {
		bm, err := onnx.Load(filepath.Join(c.dir, meta.Best))
		if err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		defer bm.Close()
		if st.best, err = modelWeights(bm, r.write); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// loadWeightsFrom sets the trained initializers from an ONNX file.
func loadWeightsFrom(r *run, path string) error {
	m, err := onnx.Load(path)
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	defer m.Close()
	w, err := modelWeights(m, r.write)
	if err != nil {
		return err
	}
	for name, vals := range w {
		var f []float64
		switch x := vals.(type) {
		case []float32:
			f = make([]float64, len(x))
			for i, v := range x {
				f[i] = float64(v)
			}
		case []float64:
			f = x
		}
		if err := setVariable(r.eng.store, name, f); err != nil {
			return err
		}
	}
	return nil
}

// modelWeights reads the named float initializers of m.
func modelWeights(m *onnx.Model, names []string) (weights, error) {
	g := m.Graph()
	w := weights{}
	for _, n := range names {
		t := g.Initializer(n)
		if t == nil {
			return nil, fmt.Errorf("checkpoint model lacks initializer %q", n)
		}
		var err error
		switch onnx.TypeOf(t) {
		case onnx.Double:
			w[n], err = onnx.Values[float64](m, t)
		default:
			w[n], err = onnx.Float32s(m, t)
		}
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// saveState writes the optimizer's variables as an .npz (flat arrays).
func (c *checkpointer) saveState(ctx context.Context, r *run, path string) error {
	tmp, err := safefile.Temp(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	zw := npz.NewWriter(tmp)
	for _, v := range r.eng.opt.stateVariables(r.eng.store, r.eng.vars) {
		t, err := v.Value()
		if err != nil {
			tmp.Close()
			return err
		}
		vals, err := flatFloats(t)
		if err != nil {
			tmp.Close()
			return err
		}
		if err := zw.Write(v.Path(), vals); err != nil {
			tmp.Close()
			return fmt.Errorf("checkpoint state: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	return safefile.Commit(ctx, safefile.Rename{Temp: tmp.Name(), Target: path})
}

// loadState restores the optimizer's variables.
func (c *checkpointer) loadState(r *run, path string) error {
	zr, err := npz.Open(path)
	if err != nil {
		return fmt.Errorf("--resume: optimizer state: %w", err)
	}
	defer zr.Close()
	for _, v := range r.eng.opt.stateVariables(r.eng.store, r.eng.vars) {
		var t *tensors.Tensor
		dims := v.Shape().Dimensions
		switch v.DType() {
		case dtypes.Float64:
			var f []float64
			if err := zr.Read(v.Path(), &f); err != nil {
				return fmt.Errorf("--resume: optimizer state %s: %w", v.Path(), err)
			}
			if len(f) != v.Shape().Size() {
				return fmt.Errorf("--resume: optimizer state %s has %d values, want %d", v.Path(), len(f), v.Shape().Size())
			}
			t = tensors.FromFlatDataAndDimensions(f, dims...)
		default:
			var f []float32
			if err := zr.Read(v.Path(), &f); err != nil {
				return fmt.Errorf("--resume: optimizer state %s: %w", v.Path(), err)
			}
			if len(f) != v.Shape().Size() {
				return fmt.Errorf("--resume: optimizer state %s has %d values, want %d", v.Path(), len(f), v.Shape().Size())
			}
			t = tensors.FromFlatDataAndDimensions(f, dims...)
		}
		if err := v.SetValue(t); err != nil {
			return err
		}
	}
	return nil
}
