package registry

import "errors"

// Sentinel errors, matched with errors.Is. Messages returned to users wrap them with the
// name, version or alias involved and what to do next.
var (
	// ErrNotFound: the model, version or alias does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a name, reference, URL or manifest is malformed.
	ErrInvalid = errors.New("invalid input")
	// ErrChecksum: downloaded bytes do not match the manifest's sha256 or size.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrInUse: a version cannot be removed because an alias points to it.
	ErrInUse = errors.New("in use")
)

// sentinelError is a message that matches a sentinel without printing it ("not found: ...").
type sentinelError struct {
	msg      string
	sentinel error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.sentinel }
