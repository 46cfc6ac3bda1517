//go:build !linux

package host

import "os/exec"

// dieWithHost: only Linux can tie a child's life to its parent's; elsewhere a provider outlives
// a host that is killed.
func dieWithHost(*exec.Cmd) {}

// Only Linux records provider processes to kill leftovers (it needs /proc to tell a reused pid).
func (h *Host) recordProvider(int) string { return "" }
func (h *Host) forgetProvider(string)     {}
func (h *Host) killLeftoverProviders()    {}

// RunningProviders cannot tell running provider processes here (no records without /proc): it
// returns none.
func RunningProviders(string) ([]ProviderProcess, error) { return nil, nil }
