package cmdutil

import (
	"strings"
	"testing"
)

func TestPrintJSONStable(t *testing.T) {
	io, _, out, _ := Test()
	v := struct {
		B string         `json:"b"`
		A map[string]int `json:"a"`
	}{B: "<x>", A: map[string]int{"z": 1, "y": 2}}
	if err := PrintJSON(io, v); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b\": \"<x>\",\n  \"a\": {\n    \"y\": 2,\n    \"z\": 1\n  }\n}\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestTablePlainOffTTY(t *testing.T) {
	io, _, out, _ := Test()
	tb := NewTable(io, "name", "dtype")
	tb.AddRow("input", "float32")
	tb.AddRow("x", "int64")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	want := "NAME   DTYPE\ninput  float32\nx      int64\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestTableStyledOnTTY(t *testing.T) {
	io, _, out, _ := Test()
	io.SetStdoutTTY(true)
	io.SetColorEnabled(true)
	tb := NewTable(io, "name")
	tb.AddRow("input")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "╭") || !strings.Contains(s, "\x1b[") {
		t.Fatalf("expected a bordered, coloured table, got %q", s)
	}

	io2, _, out2, _ := Test()
	io2.SetStdoutTTY(true) // terminal, colour off (NO_COLOR / --no-color)
	tb = NewTable(io2, "name")
	tb.AddRow("input")
	_ = tb.Render()
	if strings.Contains(out2.String(), "\x1b[") || !strings.Contains(out2.String(), "╭") {
		t.Fatalf("expected borders without ANSI codes, got %q", out2.String())
	}
}

func TestColorNeedsTTY(t *testing.T) {
	io, _, _, _ := Test()
	io.SetColorEnabled(true)
	if io.ColorEnabled() {
		t.Fatal("colour enabled on a non-terminal")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatTable, "table": FormatTable, "json": FormatJSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); ExitCode(err) != ExitUsage {
		t.Errorf("ParseFormat(yaml) err = %v, want usage error", err)
	}
}

func TestProgressSilentOffTTY(t *testing.T) {
	io, _, _, errOut := Test()
	p := NewProgress(io, 100, "copy", true)
	p.Add(50)
	_, _ = p.Write(make([]byte, 50))
	p.Finish()
	if errOut.Len() != 0 {
		t.Fatalf("progress wrote %q off a terminal", errOut.String())
	}
	io.SetStderrTTY(true)
	p = NewProgress(io, 100, "copy", true)
	p.Add(10) // the first update always renders; later ones are throttled
	p.Add(90)
	p.Finish()
	if errOut.Len() == 0 {
		t.Fatal("no progress bar on a terminal")
	}
}

func TestStatusQuietVerbose(t *testing.T) {
	io, _, _, errOut := Test()
	io.Statusf("a")
	io.Verbosef("b")
	io.Quiet = true
	io.Statusf("c")
	io.Quiet, io.Verbose = false, true
	io.Verbosef("d")
	if errOut.String() != "a\nd\n" {
		t.Fatalf("got %q", errOut.String())
	}
}
