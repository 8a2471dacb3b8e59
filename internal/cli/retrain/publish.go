package retrain

import (
	"context"
	"fmt"
	"os"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/challenger"
	"github.com/mlops-dev/mlops/internal/registry"
	core "github.com/mlops-dev/mlops/internal/retrain"
)

// report is the JSON of a retrain run: the core report and the push.
type report struct {
	*core.Report
	PeakRSSBytes int64              `json:"peak_rss_bytes,omitempty"` // of the whole mlops process
	Push         *challenger.Result `json:"push,omitempty"`
}

// publish pushes the trained model as a new version of o.Push with its
// metrics and lineage, and moves the aliases only when the gate holds.
func (o *RetrainOptions) publish(ctx context.Context, rep *core.Report, parent *registry.Manifest) (*challenger.Result, error) {
	reg, err := o.Factory.Registry(ctx, o.Registry, registry.Options{})
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	lin, err := o.lineage(rep, parent)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return challenger.Push(ctx, reg, challenger.Request{Model: o.Output, Name: o.Push, Aliases: o.Aliases,
		Evaluation: rep.Evaluation, Lineage: lin, Message: "retrain of " + o.Model, Host: host})
}

// lineage records where the version came from: the parent version, the
// digests of the data, the hyperparameters and this mlops.
func (o *RetrainOptions) lineage(rep *core.Report, parent *registry.Manifest) (*registry.Lineage, error) {
	lin := &registry.Lineage{Transformation: "retrain", Tool: buildinfo.Get().String(), Hyperparameters: map[string]string{}}
	if parent != nil {
		lin.Parent = parent.Ref().String()
	}
	for k, v := range rep.Hyperparameters {
		lin.Hyperparameters[k] = v
	}
	lin.Hyperparameters["trainable"] = o.Trainable
	lin.Hyperparameters["mode"] = rep.Mode
	lin.Hyperparameters["update_bn_stats"] = fmt.Sprint(o.UpdateBNStats)
	lin.Hyperparameters["reinit"] = fmt.Sprint(o.Reinit)
	if o.ValSplit > 0 {
		lin.Hyperparameters["val_split"] = fmt.Sprint(o.ValSplit)
	}
	if o.Limit > 0 {
		lin.Hyperparameters["limit"] = fmt.Sprint(o.Limit)
	}
	data, refs, err := challenger.DataFiles([][2]string{{"train_data", o.Data}, {"train_labels", o.Labels},
		{"val_data", o.ValData}, {"val_labels", o.ValLabels}, {"teacher", o.Teacher}, {"teacher_logits", o.TeacherLogits}})
	if err != nil {
		return nil, err
	}
	lin.Data = data
	for k, v := range refs { // a registry reference (the teacher): recorded as given
		lin.Hyperparameters[k] = v
	}
	return lin, nil
}
