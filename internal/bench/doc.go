// Package bench holds benchmarks that measure whole mlops commands as a user
// runs them (the built binary on generated multi-gigabyte models), for
// `make bench`. It has no code of its own outside tests.
package bench
