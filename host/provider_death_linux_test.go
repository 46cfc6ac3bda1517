package host

import (
	"bufio"
	"os"
	"os/exec"
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
	require.Eventually(t, func() bool { return !running(pid) }, 10*time.Second, 10*time.Millisecond,
		"the provider outlived its host")
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
