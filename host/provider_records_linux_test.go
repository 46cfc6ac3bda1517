package host

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunningProviders: a record of a running process is returned with the binary it runs; a
// record of a gone process, of a reused pid (another start time) or a malformed one is skipped
// and left where it is.
func TestRunningProviders(t *testing.T) {
	dir := t.TempDir()
	got, err := RunningProviders(dir)
	require.NoError(t, err)
	require.Empty(t, got, "no records: none")

	sleep := exec.Command("sleep", "60")
	require.NoError(t, sleep.Start())
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	pid := sleep.Process.Pid
	start, err := procStart(pid)
	require.NoError(t, err)
	self, err := procStart(os.Getpid())
	require.NoError(t, err)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	require.NoError(t, err)

	pids := filepath.Join(dir, "providers", "pids")
	require.NoError(t, os.MkdirAll(pids, 0o700))
	write := func(name, line string) {
		require.NoError(t, os.WriteFile(filepath.Join(pids, name), []byte(line), 0o600))
	}
	write(fmt.Sprint(pid), fmt.Sprintf("%d %d %d %d\n", pid, start, os.Getpid(), self))
	write("reused", fmt.Sprintf("%d %d %d %d\n", pid, start+1, os.Getpid(), self))
	write("gone", fmt.Sprintf("%d %d %d %d\n", 1<<22+7, 1, os.Getpid(), self))
	write("junk", "not a record")

	got, err = RunningProviders(dir)
	require.NoError(t, err)
	require.Equal(t, []ProviderProcess{{PID: pid, HostPID: os.Getpid(), Binary: exe}}, got)
	entries, err := os.ReadDir(pids)
	require.NoError(t, err)
	require.Len(t, entries, 4, "records are read, never removed")
}
