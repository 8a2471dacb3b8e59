// Package evalreport turns a model's predictions on labelled data into the
// report `mlops eval` prints: scikit-learn-compatible metrics (package
// metrics), a comparison with a baseline model (bootstrap confidence
// intervals, McNemar's exact test, agreement), CI gates such as
// "accuracy>=0.85" or "f1_macro>=baseline-0.01", plots (gonum/plot, PNG and
// SVG), a self-contained HTML page and a markdown summary.
//
// It does not run models: the caller collects Predictions (scores and
// labels) and operational figures and hands them over, so the package needs
// neither ONNX Runtime nor the CLI.
package evalreport
