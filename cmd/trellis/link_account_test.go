package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestUpRefusesALinkAccountItsHostsReject: the reconciler's --link-account must be an account
// key, and one of --link-issuers when they are set; otherwise the host does not run, saying why.
func TestUpRefusesALinkAccountItsHostsReject(t *testing.T) {
	useTempKeys(t)
	seed := func(kind lattice.KeyPrefix) (string, string) {
		kp := latticetest.Key(t, kind)
		s, err := kp.Seed()
		require.NoError(t, err)
		return s, kp.PublicKey()
	}
	account, _ := seed(lattice.PrefixAccount)
	_, other := seed(lattice.PrefixAccount)
	cluster, _ := seed(lattice.PrefixCluster)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a link issuer", []string{"--link-issuers", other, "--link-account", account}, "is not one of the link issuers (" + other + ")"},
		{"a cluster seed", []string{"--link-account", cluster}, "want an account seed"},
		{"no such file", []string{"--link-account", "/nonexistent/link.seed"}, "--link-account: neither a seed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, context.Background(), append([]string{"up", "--nats-port", "0", "--dashboard-addr", "", "--data-dir", t.TempDir()}, tc.args...)...)
			require.NotEqual(t, 0, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}
