package root

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

// TestRunInProcess checks error printing and exit codes without a
// subprocess (the testscript suite does the same against the binary).
func TestRunInProcess(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("MLOPS_CONFIG", "")
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		hintForCmd string
	}{
		{args: []string{"version", "--output", "json"}, code: 0, stdout: `"go_version"`},
		{args: []string{"nosuch"}, code: 2, stderr: `error: unknown command "nosuch"`, hintForCmd: "mlops"},
		{args: []string{"version", "--bogus"}, code: 2, stderr: "error: unknown flag: --bogus", hintForCmd: "mlops version"},
		{args: []string{"inspect", "/nonexistent/model.onnx"}, code: 1, stderr: "error: open model"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			io, _, out, errOut := cmdutil.Test()
			code := Run(context.Background(), io, tt.args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out, tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.stderr)
			}
			if n := strings.Count(errOut.String(), "error: "); tt.code != 0 && n != 1 {
				t.Errorf("error printed %d times: %q", n, errOut)
			}
			hint := "Run '" + tt.hintForCmd + " --help' for usage."
			if got := strings.Contains(errOut.String(), hint); got != (tt.hintForCmd != "") {
				t.Errorf("usage hint present=%v, want %v: %q", got, tt.hintForCmd != "", errOut)
			}
		})
	}
}

// TestCancelledContextExits130 runs a command whose context is already
// cancelled, as after Ctrl-C: the exit code must be 130.
func TestCancelledContextExits130(t *testing.T) {
	io, _, _, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io}
	root := NewCmdRoot(f)
	root.AddCommand(&cobra.Command{Use: "wait", RunE: func(cmd *cobra.Command, _ []string) error {
		<-cmd.Context().Done()
		return cmd.Context().Err()
	}})
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&cmdutil.CancelError{})
	root.SetArgs([]string{"wait"})
	_, err := root.ExecuteContextC(ctx)
	if got := cmdutil.ExitCode(classify(err, nil)); got != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d (err %v), want 130; stderr %s", got, err, errOut)
	}
}

// A signal that arrives after a command's last safe point (its files are in place) does not
// stop it: it exits 0, and the last word on stderr says it finished rather than the "stopping"
// printed when the signal came. A signal that comes in time wins: 130, "stopped by Ctrl-C".
func TestInterruptAfterTheWorkIsDone(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&cmdutil.CancelError{Err: errors.New("stopped by Ctrl-C (SIGINT)")})
	io, _, out, errOut := cmdutil.Test()
	if code := Run(ctx, io, []string{"version"}); code != 0 {
		t.Fatalf("exit %d, want 0 (version ignores its context); stderr %s", code, errOut)
	}
	if out.Len() == 0 || !strings.Contains(errOut.String(), "had already finished its work when the signal came") {
		t.Fatalf("stdout %q, stderr %q: want the results and a note that they are complete", out, errOut)
	}
	// In time: prune writes nothing and exits 130 with the signal's own words.
	out2 := filepath.Join(t.TempDir(), "p.onnx")
	io, _, _, errOut = cmdutil.Test()
	if code := Run(ctx, io, []string{"prune", "../../../testdata/fmnist/mlp.onnx", "-o", out2, "--sparsity", "0.5"}); code != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d, want 130; stderr %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "error: stopped by Ctrl-C (SIGINT)") || strings.Contains(errOut.String(), "already finished") {
		t.Fatalf("stderr %q", errOut)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Fatalf("an interrupted prune wrote %s", out2)
	}
}

// Every command shows an example; the exit codes are in mlops --help (see
// TestHelpGroupsAndSharedTextOnce).
func TestEveryCommandHasAnExample(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	root := NewCmdRoot(&cmdutil.Factory{IO: io})
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || !c.Runnable() && !c.HasSubCommands() {
			continue // help topics have no example
		}
		if c.Example == "" {
			t.Errorf("mlops %s has no Example", c.Name())
		}
	}
}

// Every command is in a help group, and the exit-code table and the
// registry's credentials paragraph live in one place each (root help and
// `mlops help registry`), not in every command's help: commands added later
// (tune's subcommands too) are held to the same rule.
func TestHelpGroupsAndSharedTextOnce(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	root := NewCmdRoot(&cmdutil.Factory{IO: io})
	if !strings.Contains(root.Long, "Exit codes:") {
		t.Error("root help lacks the exit-code table")
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if c == root && sub.IsAvailableCommand() && sub.GroupID == "" {
				t.Errorf("mlops %s is in no help group", sub.Name())
			}
			if strings.Contains(sub.Long, "Exit codes:") {
				t.Errorf("%s repeats the exit-code table (it is in mlops --help)", sub.CommandPath())
			}
			if strings.Contains(sub.Long, "Credentials come from") && sub.CommandPath() != "mlops registry" {
				t.Errorf("%s repeats the credentials paragraph (it is in mlops help registry)", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
