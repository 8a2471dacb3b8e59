// Package cmdutil is the toolkit every mlops subcommand is built from: the
// Factory of lazily-built dependencies (I/O streams, per-run configuration,
// and whatever openers other packages add), the one place where errors map
// to process exit codes, and output helpers (JSON, tables, progress bars) that
// behave correctly on and off a terminal.
//
// A command reaches the outside world only through the Factory, so tests can
// hand it buffers and a fixed configuration. Core packages must not import
// cmdutil; it sits strictly on the CLI side.
package cmdutil
