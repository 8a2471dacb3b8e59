package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Ref names a model in the registry: NAME (latest version), NAME@VERSION or NAME@ALIAS.
type Ref struct {
	Name    string
	Version int    // > 0 when the reference names a version
	Alias   string // non-empty when the reference names an alias
}

// String formats the reference the way ParseRef reads it.
func (r Ref) String() string {
	switch {
	case r.Version > 0:
		return fmt.Sprintf("%s@%d", r.Name, r.Version)
	case r.Alias != "":
		return r.Name + "@" + r.Alias
	}
	return r.Name
}

// Names are path segments in every backend, so they are restricted to a portable alphabet;
// "../x", "a/b" and empty names are refused. Aliases must start with a letter so they never
// look like a version number.
var (
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	aliasRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,62}$`)
)

// ValidateName reports whether s can be used as a model name.
func ValidateName(s string) error {
	if !nameRe.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("%w: model name %q: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/' or '..')", ErrInvalid, s)
	}
	return nil
}

// ValidateAlias reports whether s can be used as an alias.
func ValidateAlias(s string) error {
	if !aliasRe.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("%w: alias %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter", ErrInvalid, s)
	}
	return nil
}

// ParseRef parses NAME, NAME@VERSION or NAME@ALIAS.
func ParseRef(s string) (Ref, error) {
	name, sel, hasSel := strings.Cut(s, "@")
	if err := ValidateName(name); err != nil {
		return Ref{}, err
	}
	r := Ref{Name: name}
	if !hasSel {
		return r, nil
	}
	if sel == "" {
		return Ref{}, fmt.Errorf("%w: reference %q: nothing after '@'; write NAME, NAME@VERSION or NAME@ALIAS", ErrInvalid, s)
	}
	if sel[0] >= '0' && sel[0] <= '9' {
		v, err := strconv.Atoi(sel)
		if err != nil || v <= 0 {
			return Ref{}, fmt.Errorf("%w: reference %q: version must be a positive integer", ErrInvalid, s)
		}
		r.Version = v
		return r, nil
	}
	if err := ValidateAlias(sel); err != nil {
		return Ref{}, fmt.Errorf("reference %q: %w", s, err)
	}
	r.Alias = sel
	return r, nil
}
