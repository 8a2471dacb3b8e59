package cmdutil

import (
	"strings"

	"github.com/spf13/pflag"
)

// OutFlag is the flag of every command that writes a file: -o/--out PATH.
const OutFlag = "out"

// AddOutFlag declares -o/--out on a command that writes a file.
func AddOutFlag(fl *pflag.FlagSet, p *string, usage string) {
	fl.StringVarP(p, OutFlag, "o", "", usage)
}

// CheckOutNotFormat refuses -o json (or table, markdown): -o names the file a command writes,
// and a user who types it this way almost always meant the report format, --output.
func CheckOutNotFormat(value string) error {
	if f, ok := formatName(value); ok {
		return FlagErrorf("-o %s: -o/--out is the file to write; did you mean --output %s? (for a file named %s write ./%s)", value, f, value, value)
	}
	return nil
}

// OutputHint is the hint for a command without -o given "-o json": did you mean --output json?
// args is the command line; "" when no -o FORMAT is in it.
func OutputHint(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		v, ok := strings.CutPrefix(a, "-o")
		if !ok {
			continue
		}
		v = strings.TrimPrefix(v, "=")
		if v == "" && i+1 < len(args) {
			v = args[i+1]
		}
		if f, ok := formatName(v); ok {
			return "did you mean --output " + f + "?"
		}
	}
	return ""
}

func formatName(v string) (string, bool) {
	switch f := Format(strings.ToLower(v)); f {
	case FormatTable, FormatJSON, FormatMarkdown:
		return string(f), true
	}
	return "", false
}

// OutputArg resolves an output given as a positional argument (arg, "" when absent) or as
// -o/--out (out): either works, both only when they agree.
func OutputArg(arg, out string) (string, error) {
	switch {
	case arg == "":
		return out, nil
	case out == "" || out == arg:
		return arg, nil
	}
	return "", FlagErrorf("two outputs: the argument %s and -o %s; give one", arg, out)
}
