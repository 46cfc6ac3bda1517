package main

import (
	"github.com/spf13/cobra"
)

// wash 0.x ran the everyday ctl commands at the top level too (`wash get hosts`, `wash start
// actor …`, `wash link put …`). washAliases are those trees: the same commands as under ctl,
// with the same flags, unlisted in `trellis --help` (ctl's help names them).
func washAliases() []*cobra.Command {
	type tree func(*ctlFlags) *cobra.Command
	var cmds []*cobra.Command
	for _, mk := range []tree{newCtlGetCmd, newCtlStartCmd, newCtlStopCmd, newCtlScaleCmd, newCtlUpdateCmd, newCtlLinkCmd, newCtlCallCmd} {
		f := &ctlFlags{}
		cmd := mk(f)
		f.register(cmd.PersistentFlags())
		cmd.Hidden = true
		cmd.Short += " (as `trellis ctl " + cmd.Name() + "`)"
		cmds = append(cmds, withWashFlagNames(cmd))
	}
	return cmds
}
