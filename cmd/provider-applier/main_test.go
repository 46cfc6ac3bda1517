package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// binary builds this command once per test.
func binary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "provider-applier")
	cmd := exec.Command("go", "build", "-o", out, ".")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// withoutKubernetesEnv is the environment without the variables that make client-go believe it
// runs in a pod.
func withoutKubernetesEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBERNETES_SERVICE_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestStartupErrors runs the binary as a host does and checks that what stops it is said clearly.
func TestStartupErrors(t *testing.T) {
	bin := binary(t)
	ns := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	hostData := func(config string) string {
		hd := lattice.HostData{
			HostID:           latticetest.Key(t, lattice.PrefixServer).PublicKey(),
			LatticeRPCPrefix: "applier",
			LatticeRPCURL:    fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
			InstanceID:       uuid.NewString(),
			ProviderKey:      latticetest.Key(t, lattice.PrefixService).PublicKey(),
			ClusterIssuers:   []string{cluster.PublicKey()},
			InvocationSeed:   seed,
			ConfigJSON:       config,
		}
		line, err := hd.Encode()
		require.NoError(t, err)
		return string(line)
	}
	for _, tc := range []struct {
		name, stdin string
		code        int
		want        string
	}{
		{"no host data", "", providers.ExitHostData, "stdin closed before the host data line"},
		{"no kubernetes access outside a pod", hostData(""), providers.ExitError,
			"not running in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset) and no kubeconfig given"},
		{"a typo in the configuration", hostData(`{"namespaec":"app"}`), providers.ExitError, `unknown field "namespaec"`},
		{"a kubeconfig that is not one", hostData(`{"config_b64":"bm90IGEga3ViZWNvbmZpZw=="}`), providers.ExitError, "kubernetes config_b64"},
		{"a kubeconfig file that is missing", hostData(`{"config_file":"/nonexistent/kubeconfig"}`), providers.ExitError, "kubernetes config_file /nonexistent/kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := exec.Command(bin)
			cmd.Env = withoutKubernetesEnv()
			cmd.Stdin = strings.NewReader(tc.stdin)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "%v; stderr:\n%s", err, &stderr)
			require.Equal(t, tc.code, exit.ExitCode(), "stderr:\n%s", &stderr)
			require.Contains(t, stderr.String(), "kubernetes-applier provider: ")
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}
