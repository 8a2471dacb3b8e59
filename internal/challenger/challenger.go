// Package challenger is the step retrain and tune end with: a trained model
// becomes a new version in the registry with its metrics and lineage, and the
// aliases move to it only when its evaluation's gates against the champion
// hold. The version is pushed either way, so a held challenger can still be
// promoted by hand.
//
// The evaluation itself is mlops eval's (internal/eval); this package only
// reads its report. It knows nothing about flags or output.
package challenger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/registry"
)

// Request is one push of a challenger.
type Request struct {
	Model   string   // the local .onnx file to push
	Name    string   // the registry name it becomes a version of
	Aliases []string // moved to the new version when the gates hold (or there are none)
	// Evaluation is eval's report of Model on the validation rows (with the
	// champion's comparison and the gates), or nil when it was not evaluated.
	Evaluation *eval.Report
	// Metrics are recorded with the version; the evaluation's metrics (and
	// McNemar's p-value against the champion) are added over them.
	Metrics map[string]float64
	Lineage *registry.Lineage
	Message string
	Host    string
}

// Result says what the push did. JSON names are a contract (retrain's and
// tune's "push" field).
type Result struct {
	Name     string   `json:"name"`
	Version  int      `json:"version"`
	Aliases  []string `json:"aliases"`        // aliases now pointing at the new version
	Promoted bool     `json:"promoted"`       // the gate held (or there was none) and the aliases moved
	Held     []string `json:"held,omitempty"` // aliases left where they were because the gate failed
}

// Push stores req.Model as the next version of req.Name and moves the
// aliases only when every gate of the evaluation holds.
func Push(ctx context.Context, reg *registry.Registry, req Request) (*Result, error) {
	ev := req.Evaluation
	promote := ev == nil || ev.GatesPassed()
	opts := registry.PushOptions{Metrics: Metrics(req.Metrics, ev), Lineage: req.Lineage, Message: req.Message, Host: req.Host}
	if promote {
		opts.Aliases = req.Aliases
	}
	m, err := reg.Push(ctx, req.Model, req.Name, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: m.Name, Version: m.Version, Promoted: promote, Aliases: []string{}}
	if promote {
		res.Aliases = append(res.Aliases, req.Aliases...)
	} else {
		res.Held = req.Aliases
	}
	return res, nil
}

// Metrics merges the finite values of base and of the evaluation (which
// win), with McNemar's p-value against the champion as mcnemar_p_value.
func Metrics(base map[string]float64, ev *eval.Report) map[string]float64 {
	out := map[string]float64{}
	add := func(k string, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	for k, v := range base {
		add(k, v)
	}
	if ev != nil {
		for k, v := range ev.Metrics {
			add(k, float64(v))
		}
		if c := ev.Compare; c != nil && c.McNemar != nil {
			add("mcnemar_p_value", c.McNemar.PValue)
		}
	}
	return out
}

// FailedGates lists the gates of the evaluation that did not hold, in order.
func FailedGates(ev *eval.Report) []string {
	if ev == nil {
		return nil
	}
	var failed []string
	for _, g := range ev.Gates {
		if !g.Passed {
			failed = append(failed, g.Gate)
		}
	}
	return failed
}

// DataFiles digests the files a version was made from, by role (roles
// with an empty path are skipped). A path that is not a file (a registry
// reference) is returned in refs instead, for the lineage to record as is.
func DataFiles(files [][2]string) (data []registry.DataFile, refs map[string]string, err error) {
	refs = map[string]string{}
	for _, f := range files {
		role, path := f[0], f[1]
		if path == "" {
			continue
		}
		if _, serr := os.Stat(path); serr != nil {
			refs[role] = path
			continue
		}
		df, err := digest(role, path)
		if err != nil {
			return nil, nil, err
		}
		data = append(data, df)
	}
	return data, refs, nil
}

func digest(role, path string) (registry.DataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return registry.DataFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return registry.DataFile{}, fmt.Errorf("hash %s: %w", path, err)
	}
	abs, _ := filepath.Abs(path)
	return registry.DataFile{Role: role, Path: abs, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
