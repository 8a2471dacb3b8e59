package oip

import (
	"fmt"
	"net/http"
)

// Error is a protocol error: an HTTP status and a message for the client.
// Handlers render it as {"error": Message}.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest builds a 400 error.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Errorf builds an error with the given status.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}
