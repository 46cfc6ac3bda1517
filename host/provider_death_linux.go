package host

import (
	"os/exec"
	"syscall"
)

// dieWithHost makes the kernel kill the provider process when the host process dies, however it
// dies: a host killed with SIGKILL (or crashed) must not leave providers behind that keep
// answering for the lattice and hold their ports, while the reconciler starts their replacements
// elsewhere. (Go starts processes from threads it keeps for as long as the process runs.)
func dieWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
