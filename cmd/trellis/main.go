// Command trellis is the Trellis CLI: it runs a host (up, host), drives a lattice (ctl), signs
// and inspects actors (claims) and makes keys (keys). It only wires packages together; the work
// is done in lattice and host.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ex exitError
		if !errors.As(err, &ex) || !ex.silent {
			fmt.Fprintln(stderr, "Error:", err)
		}
		if errors.As(err, &ex) {
			return ex.code
		}
		return 1
	}
	return 0
}
