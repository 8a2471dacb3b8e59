// Package monitor watches a served model from its payload logs: it reads the JSON Lines records that
// `mlops serve` writes (see docs/payload-log.md), compares feature and prediction distributions with a
// reference sample (KS, chi-square, Z-test, PSI, Jensen–Shannon, normalised Wasserstein, chosen as
// Evidently does by default), joins delayed ground-truth labels by request id for live quality per time
// window, evaluates gates, and renders the result as Prometheus metrics or an HTML report.
//
// The package knows nothing about the command line: callers resolve flags and configuration and pass
// a Request. It holds no package-level mutable state and reads no environment variables.
// Malformed payload-log lines are skipped and counted, never fatal; bad reference data or labels are
// errors that say what was wrong.
package monitor
