package host

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// Leftover providers. Each running provider process has a file in DataDir/providers/pids named
// after its pid, holding "PID START HOSTPID HOSTSTART" (START: the process's start time in clock
// ticks since boot, field 22 of /proc/PID/stat). A host starting on the data dir kills a recorded
// process only when it is still that same process (same start time: a reused pid is another
// process and is left alone) and the host that started it is gone (so two hosts sharing a data
// dir do not kill each other's providers). The parent-death signal normally does this already;
// this covers what it cannot (a provider that reset it, a host whose thread died first).

func (h *Host) pidDir() string { return filepath.Join(h.cfg.DataDir, "providers", "pids") }

// recordProvider writes the pid file of a started provider process; "" when it could not.
func (h *Host) recordProvider(pid int) string {
	start, err := procStart(pid)
	if err != nil {
		h.log.Warn().Err(err).Int("pid", pid).Msg("record provider process")
		return ""
	}
	self, err := procStart(os.Getpid())
	if err != nil {
		h.log.Warn().Err(err).Msg("record provider process")
		return ""
	}
	if err := os.MkdirAll(h.pidDir(), 0o700); err != nil {
		h.log.Warn().Err(err).Msg("record provider process")
		return ""
	}
	file := filepath.Join(h.pidDir(), strconv.Itoa(pid))
	line := fmt.Sprintf("%d %d %d %d\n", pid, start, os.Getpid(), self)
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		h.log.Warn().Err(err).Msg("record provider process")
		return ""
	}
	return file
}

// forgetProvider removes the pid file of a provider process that exited.
func (h *Host) forgetProvider(file string) {
	if file != "" {
		_ = os.Remove(file)
	}
}

// killLeftoverProviders kills the recorded provider processes of hosts that are gone, and removes
// the records of processes that are gone.
func (h *Host) killLeftoverProviders() {
	entries, err := os.ReadDir(h.pidDir())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			h.log.Warn().Err(err).Msg("read leftover provider records")
		}
		return
	}
	for _, e := range entries {
		file := filepath.Join(h.pidDir(), e.Name())
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var pid, start, hostPID, hostStart uint64
		if n, _ := fmt.Sscan(string(b), &pid, &start, &hostPID, &hostStart); n != 4 || pid == 0 {
			h.log.Warn().Str("file", file).Msg("malformed provider record removed")
			_ = os.Remove(file)
			continue
		}
		if sameProcess(int(hostPID), hostStart) {
			continue // its host still runs: its providers are its own
		}
		if sameProcess(int(pid), start) {
			if err := syscall.Kill(int(pid), syscall.SIGKILL); err == nil {
				h.log.Warn().Uint64("pid", pid).Msg("killed a provider process left by a host that is gone")
			}
		}
		_ = os.Remove(file)
	}
}

// sameProcess reports whether pid runs and started at start (not a pid reused since).
func sameProcess(pid int, start uint64) bool {
	got, err := procStart(pid)
	return err == nil && got == start
}

// procStart reads a process's start time (clock ticks since boot) from /proc; an error for a
// process that does not exist or is a zombie.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	// After "pid (comm)": state is field 3, starttime field 22.
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// RunningProviders returns the provider processes recorded under dataDir (by any host using it)
// that still run, with the binary each runs (from /proc/PID/exe), so that tools like `trellis
// drain` leave those binaries alone. Records of processes that are gone are skipped, not removed.
func RunningProviders(dataDir string) ([]ProviderProcess, error) {
	dir := filepath.Join(dataDir, "providers", "pids")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provider records in %s: %w", dir, err)
	}
	var out []ProviderProcess
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var pid, start, hostPID, hostStart uint64
		if n, _ := fmt.Sscan(string(b), &pid, &start, &hostPID, &hostStart); n != 4 || pid == 0 || !sameProcess(int(pid), start) {
			continue
		}
		exe, err := os.Readlink("/proc/" + strconv.FormatUint(pid, 10) + "/exe")
		if err != nil {
			// Another user's process: it runs, but which binary cannot be told.
			exe = ""
		}
		out = append(out, ProviderProcess{PID: int(pid), HostPID: int(hostPID), Binary: strings.TrimSuffix(exe, " (deleted)")})
	}
	return out, nil
}
