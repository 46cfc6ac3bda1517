package host

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dieWithHostRole makes this test binary play a host ("host": it starts a provider with
// dieWithHost, prints the provider's pid and waits) or a provider ("provider": it waits).
const dieWithHostRole = "TRELLIS_TEST_DIE_WITH_HOST"

// TestProviderDiesWithHost kills a host process with SIGKILL, so that it runs no shutdown: the
// provider it started is gone all the same.
func TestProviderDiesWithHost(t *testing.T) {
	switch os.Getenv(dieWithHostRole) {
	case "host":
		p := exec.Command(os.Args[0], "-test.run=^TestProviderDiesWithHost$", "-test.timeout=1m")
		p.Env = append(os.Environ(), dieWithHostRole+"=provider")
		dieWithHost(p)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString(strconv.Itoa(p.Process.Pid) + "\n")
		time.Sleep(time.Minute)
		return
	case "provider":
		time.Sleep(time.Minute)
		return
	}

	h := exec.Command(os.Args[0], "-test.run=^TestProviderDiesWithHost$", "-test.timeout=1m")
	h.Env = append(os.Environ(), dieWithHostRole+"=host")
	out, err := h.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, h.Start())
	t.Cleanup(func() { _ = h.Process.Kill(); _ = h.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the host's provider pid")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.True(t, running(pid), "the provider runs")

	require.NoError(t, h.Process.Signal(syscall.SIGKILL))
	_ = h.Wait()
	require.Eventually(t, func() bool { return !running(pid) }, 5*time.Second, 10*time.Millisecond,
		"the provider outlived its host by more than 5 s")
}

// running reports whether process pid exists and is not a zombie (a killed process whose parent
// died may wait for a pid 1 that does not reap it).
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestLeftoverProvidersKilledAtStart: a host starting on a data dir kills the recorded provider
// processes of a host that is gone, and leaves alone a process whose pid was reused (another
// start time) and the providers of a host that still runs.
func TestLeftoverProvidersKilledAtStart(t *testing.T) {
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "60")
		require.NoError(t, c.Start())
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c
	}
	gone := exec.Command("true") // a host that is gone: its pid and start time name no process now
	require.NoError(t, gone.Start())
	goneStart, err := procStart(gone.Process.Pid)
	if err != nil {
		goneStart = 1 // already exited: any start time names no process
	}
	require.NoError(t, gone.Wait())

	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	h, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(h.pidDir(), 0o700))
	record := func(pid int, start uint64, hostPID int, hostStart uint64) {
		line := strconv.Itoa(pid) + " " + strconv.FormatUint(start, 10) + " " + strconv.Itoa(hostPID) + " " + strconv.FormatUint(hostStart, 10) + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(h.pidDir(), strconv.Itoa(pid)), []byte(line), 0o600))
	}
	startOf := func(c *exec.Cmd) uint64 {
		s, err := procStart(c.Process.Pid)
		require.NoError(t, err)
		return s
	}
	self, err := procStart(os.Getpid())
	require.NoError(t, err)

	leftover, reused, ofLiveHost := start(), start(), start()
	record(leftover.Process.Pid, startOf(leftover), gone.Process.Pid, goneStart)
	record(reused.Process.Pid, startOf(reused)+1, gone.Process.Pid, goneStart)
	record(ofLiveHost.Process.Pid, startOf(ofLiveHost), os.Getpid(), self)

	h.killLeftoverProviders()
	require.Eventually(t, func() bool { return !running(leftover.Process.Pid) }, 5*time.Second, 10*time.Millisecond, "the leftover provider is killed")
	require.True(t, running(reused.Process.Pid), "a reused pid (another process) is not killed")
	require.True(t, running(ofLiveHost.Process.Pid), "a running host's provider is not killed")
	left, err := os.ReadDir(h.pidDir())
	require.NoError(t, err)
	require.Len(t, left, 1, "only the running host's record stays")
	require.Equal(t, strconv.Itoa(ofLiveHost.Process.Pid), left[0].Name())
}
