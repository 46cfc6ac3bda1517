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

	"github.com/spf13/cobra"
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

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:               "trellis",
		Short:             "Trellis: a WebAssembly actor lattice host, wire-compatible with wasmCloud 0.x",
		Version:           version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd) },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())
	})
	root.AddCommand(newUpCmd(), newHostCmd(), newCtlCmd(), newClaimsCmd(), newKeysCmd(), newParCmd(), newRegCmd())
	withUsageOnArgErrors(root)
	return root
}

// withUsageOnArgErrors makes the argument checks of c and its subcommands say what the command
// takes: cobra's own message ("accepts 2 arg(s), received 3") names neither.
func withUsageOnArgErrors(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return fmt.Errorf("%w; usage: %s (see `%s --help`)", err, cmd.UseLine(), cmd.CommandPath())
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		withUsageOnArgErrors(sub)
	}
}
