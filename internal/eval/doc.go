// Package eval measures a model on labelled data: the work behind
// `mlops eval`, and the objective tune, retrain, quantize and prune call in
// process.
//
// Run(ctx, rt, Request) runs a model (a file, or a session the caller
// already opened) over data (a data.Spec streamed from files, or a
// data.Dataset in memory) and returns a *Report: the metrics scikit-learn
// computes on the same predictions (package metrics), operational figures
// (latency, throughput, size), optionally a comparison with a baseline model
// on the same rows (seeded bootstrap intervals, McNemar's exact test,
// agreement) and quality gates (package gate; a gate's reference, such as
// "baseline" or "champion", is the baseline model).
//
//	rep, err := eval.Run(ctx, rt, eval.Request{
//		Model: eval.Model{Path: "model.onnx"},
//		Data:  data.Spec{Path: "x.npy", LabelsPath: "y.npy", BatchSize: 256},
//	})
//	acc := rep.Metric("accuracy")
//
// Labels are checked the same way for every caller: integer class ids for
// classification, within the model's classes, one per row.
//
// Lower layers are usable on their own: a Collector turns model outputs
// collected batch by batch into Predictions (so a caller that already runs
// the model, like quantize's float/quantized comparison, scores through
// the same checks), Compute turns Predictions into a Report, Compare
// compares two, and WritePlots, WriteHTML and WriteMarkdown render one.
//
// JSON field names of Report are a contract (`mlops eval --output json`):
// snake_case, never renamed. The package never imports the CLI, holds no
// package-level mutable state and reads no environment variables.
package eval
