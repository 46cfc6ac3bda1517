package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:               "trellis",
		Short:             "Trellis: a WebAssembly actor lattice host, wire-compatible with wasmCloud 0.x",
		Version:           version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyFlagSources(cmd) },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())
	})
	root.AddCommand(newUpCmd(), newHostCmd(), newCtlCmd(), newClaimsCmd(), newKeysCmd(), newParCmd(), newRegCmd(), newAppCmd(), newLatticeCmd())
	root.AddCommand(newInspectCmd(), newSpyCmd(), newDrainCmd())
	root.AddCommand(append(washAliases(), newCtxCmd())...)
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
