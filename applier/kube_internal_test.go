package applier

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: from-context}
current-context: x
`

func TestLoadAccess(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(file, []byte(testKubeconfig), 0o600))

	a, err := loadAccess([]byte(testKubeconfig), "", "")
	require.NoError(t, err)
	require.Equal(t, "https://127.0.0.1:6443", a.rest.Host)
	require.Equal(t, "secret", a.rest.BearerToken)
	require.Equal(t, "from-context", a.namespace)
	require.Equal(t, "config_b64", a.source)
	require.EqualValues(t, clientQPS, a.rest.QPS)

	a, err = loadAccess(nil, file, "override")
	require.NoError(t, err)
	require.Equal(t, "override", a.namespace)
	require.Equal(t, "config_file "+file, a.source)

	for _, tc := range []struct {
		name       string
		kubeconfig []byte
		file       string
		want       string
	}{
		{"garbage", []byte("not a kubeconfig"), "", "kubernetes config_b64: not a kubeconfig"},
		{"empty document", []byte("apiVersion: v1\nkind: Config\n"), "", "kubernetes config_b64: the kubeconfig has no server"},
		{"missing file", nil, "/nonexistent/kubeconfig", "kubernetes config_file /nonexistent/kubeconfig: stat /nonexistent/kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadAccess(tc.kubeconfig, tc.file, "")
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("outside a pod without a kubeconfig", func(t *testing.T) {
		t.Setenv("KUBERNETES_SERVICE_HOST", "")
		t.Setenv("KUBERNETES_SERVICE_PORT", "")
		_, err := loadAccess(nil, "", "")
		require.ErrorContains(t, err, "kubernetes: not running in a pod")
		require.ErrorContains(t, err, "set config_b64 or config_file in the provider configuration")
	})
}
