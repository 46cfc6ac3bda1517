package main

import "fmt"

// version is the CLI's version; release builds set it with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// exitError carries a specific exit code. When silent, the command has already said everything
// (for example `claims inspect` printing why a module is invalid) and run prints nothing more.
type exitError struct {
	code   int
	silent bool
	err    error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }
