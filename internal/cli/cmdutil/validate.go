package cmdutil

// Range checks for numeric flags. Each failure is a usage error that names
// one flag and the value it got, so a message never lists flags the user
// did not get wrong.

// Positive returns a usage error for the first of flags whose value is not
// positive.
func Positive[T int | int64 | float64](flags ...NamedValue[T]) error {
	for _, f := range flags {
		if !(f.Value > 0) {
			return FlagErrorf("--%s must be positive, got %v", f.Name, f.Value)
		}
	}
	return nil
}

// NotNegative returns a usage error for the first of flags whose value is
// negative.
func NotNegative[T int | int64 | float64](flags ...NamedValue[T]) error {
	for _, f := range flags {
		if !(f.Value >= 0) {
			return FlagErrorf("--%s must not be negative, got %v", f.Name, f.Value)
		}
	}
	return nil
}

// NamedValue is a flag's name (without dashes) and its value.
type NamedValue[T any] struct {
	Name  string
	Value T
}

// Flag pairs a flag name with its value for Positive and NotNegative.
func Flag[T any](name string, v T) NamedValue[T] { return NamedValue[T]{name, v} }

// FirstError returns the first non-nil error: validations listed in the
// order their flags appear in --help.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Given is a flag's name (with its dashes) and whether the command line (or
// the configuration) set it.
type Given struct {
	Name string
	Set  bool
}

// FirstGiven returns the name of the first flag that is set, "" when none
// is: a message about flags that need another one names the one the user
// typed.
func FirstGiven(flags ...Given) string {
	for _, f := range flags {
		if f.Set {
			return f.Name
		}
	}
	return ""
}
