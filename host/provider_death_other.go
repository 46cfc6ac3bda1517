//go:build !linux

package host

import "os/exec"

// dieWithHost: only Linux can tie a child's life to its parent's; elsewhere a provider outlives
// a host that is killed.
func dieWithHost(*exec.Cmd) {}
