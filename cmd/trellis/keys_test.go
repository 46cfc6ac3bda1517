package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

func TestKeysGen(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		letter string
	}{
		{"account", "A"}, {"module", "M"}, {"service", "V"}, {"cluster", "C"}, {"server", "N"},
		{"actor", "M"}, {"provider", "V"}, {"host", "N"}, {"operator", "O"}, {"user", "U"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			useTempKeys(t)
			code, out, errOut := runCLI(t, context.Background(), "keys", "gen", tc.kind, "-o", "json")
			require.Equal(t, 0, code, errOut)
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(out), &got))
			require.True(t, strings.HasPrefix(got["public_key"], tc.letter), got["public_key"])
			require.True(t, strings.HasPrefix(got["seed"], "S"+tc.letter), "seed kind")
			kp, err := lattice.KeyPairFromSeed(got["seed"])
			require.NoError(t, err)
			require.Equal(t, got["public_key"], kp.PublicKey())
			require.Empty(t, got["path"], "nothing saved without --name")

			code, out, _ = runCLI(t, context.Background(), "keys", "gen", tc.kind)
			require.Equal(t, 0, code)
			require.Contains(t, out, "Public Key: "+tc.letter)
			require.Contains(t, out, "Seed: S"+tc.letter)
		})
	}
}

func TestKeysGenSaveAndList(t *testing.T) {
	dir := useTempKeys(t)
	code, out, errOut := runCLI(t, context.Background(), "keys", "gen", "cluster", "--name", "prod", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	path := filepath.Join(dir, "prod_cluster.nk")
	require.Equal(t, path, got["path"])

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, got["seed"], strings.TrimSpace(string(b)))

	// A second key of the same name and kind is refused rather than overwriting the first.
	code, _, errOut = runCLI(t, context.Background(), "keys", "gen", "cluster", "--name", "prod")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "already exists")

	code, out, errOut = runCLI(t, context.Background(), "keys", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "prod_cluster.nk")
	require.Contains(t, out, got["public_key"])
	require.NotContains(t, out, got["seed"], "list never prints seeds")
}

func TestKeysGenErrors(t *testing.T) {
	useTempKeys(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "gen", "wizard"}, `unknown key kind "wizard"`},
		{[]string{"keys", "gen"}, "accepts 1 arg"},
		{[]string{"keys", "gen", "account", "--name", "../evil"}, `key name "../evil"`},
		{[]string{"keys", "gen", "account", "-o", "yaml"}, `unknown output format "yaml"`},
	} {
		code, _, errOut := runCLI(t, context.Background(), tc.args...)
		require.Equal(t, 1, code, tc.args)
		require.Contains(t, errOut, tc.want, tc.args)
	}
}
