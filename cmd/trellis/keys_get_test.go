package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeysGet(t *testing.T) {
	dir := useTempKeys(t)
	ctx := context.Background()
	gen := func(kind, name string) map[string]string {
		code, out, errOut := runCLI(t, ctx, "keys", "gen", kind, "--name", name, "-o", "json")
		require.Equal(t, 0, code, errOut)
		var k map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &k))
		return k
	}
	cluster := gen("cluster", "prod")
	module := gen("module", "echo")
	gen("account", "echo") // echo is now a name of two kinds

	for _, name := range []string{"prod_cluster.nk", "prod_cluster", "prod"} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, ctx, "keys", "get", name)
			require.Equal(t, 0, code, errOut)
			require.Equal(t, "Public Key: "+cluster["public_key"]+"\n", out, "no seed without --seed")
		})
	}

	code, out, errOut := runCLI(t, ctx, "keys", "get", "echo_module", "--seed", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, map[string]string{"name": "echo", "kind": "module", "file": dir + "/echo_module.nk",
		"public_key": module["public_key"], "seed": module["seed"]}, got)
	code, out, _ = runCLI(t, ctx, "keys", "get", "echo_module.nk", "-s")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Seed: "+module["seed"])

	// wash's --directory picks another keystore.
	other := t.TempDir()
	t.Setenv("TRELLIS_KEYS_DIR", other)
	gen("server", "edge")
	t.Setenv("TRELLIS_KEYS_DIR", t.TempDir())
	code, out, errOut = runCLI(t, ctx, "keys", "get", "edge", "-d", other)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Public Key: N")

	t.Setenv("TRELLIS_KEYS_DIR", dir)
	for _, tc := range []struct{ name, want string }{
		{"echo", `key "echo" is ambiguous in ` + dir + `: echo_account.nk, echo_module.nk; give the file name`},
		{"nope", `no key "nope" in ` + dir},
		{"../prod_cluster.nk", "not a path"},
	} {
		code, out, errOut := runCLI(t, ctx, "keys", "get", tc.name)
		require.Equal(t, 1, code, out)
		require.Contains(t, errOut, tc.want)
	}
}
