package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

// tinyModule is `(module (func (export "hello")))` as wat2wasm writes it.
var tinyModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
	0x03, 0x02, 0x01, 0x00, // function section
	0x07, 0x09, 0x01, 0x05, 'h', 'e', 'l', 'l', 'o', 0x00, 0x00, // export "hello"
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
}

func writeTinyModule(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, tinyModule, 0o644))
	return p
}

func inspectJSON(t *testing.T, file string) (int, map[string]any) {
	t.Helper()
	code, out, errOut := runCLI(t, context.Background(), "claims", "inspect", file, "-o", "json")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), "stdout %q stderr %q", out, errOut)
	return code, got
}

func TestClaimsSignInspectRoundTrip(t *testing.T) {
	keys := useTempKeys(t)
	mod := writeTinyModule(t, "echo.wasm")

	code, out, errOut := runCLI(t, context.Background(), "claims", "sign", mod,
		"--name", "Echo", "--cap", "wasmcloud:httpserver", "--cap", "wasmcloud:builtin:logging,wasmcloud:keyvalue",
		"--call-alias", "wasmcloud/echo", "--rev", "3", "--ver", "0.1.0", "--tag", "demo", "--expires-in", "24h")
	require.Equal(t, 0, code, errOut)
	signed := filepath.Join(filepath.Dir(mod), "echo_s.wasm")
	require.Contains(t, out, "Signed "+signed)
	require.Contains(t, errOut, filepath.Join(keys, "tester_account.nk"), "says it made the account key")
	require.Contains(t, errOut, filepath.Join(keys, "echo_module.nk"), "says it made the module key")

	account, _, err := keyStore{dir: keys}.load("tester", lattice.PrefixAccount)
	require.NoError(t, err)
	module, _, err := keyStore{dir: keys}.load("echo", lattice.PrefixModule)
	require.NoError(t, err)

	code, got := inspectJSON(t, signed)
	require.Equal(t, 0, code)
	require.Equal(t, true, got["valid"])
	require.Equal(t, "", got["problem"])
	require.Equal(t, module.PublicKey(), got["subject"])
	require.Equal(t, account.PublicKey(), got["issuer"])
	require.Equal(t, "Echo", got["name"])
	require.Equal(t, []any{"wasmcloud:httpserver", "wasmcloud:builtin:logging", "wasmcloud:keyvalue"}, got["caps"])
	require.Equal(t, []any{"demo"}, got["tags"])
	require.Equal(t, "wasmcloud/echo", got["call_alias"])
	require.Equal(t, float64(3), got["rev"])
	require.Equal(t, "0.1.0", got["ver"])
	require.Equal(t, "wasmcloud_jwt", got["section"])
	require.Equal(t, got["module_hash"], got["hash"])
	require.NotEmpty(t, got["expires"])

	code, text, _ := runCLI(t, context.Background(), "claims", "inspect", signed)
	require.Equal(t, 0, code)
	for _, want := range []string{module.PublicKey(), account.PublicKey(), "wasmcloud:httpserver", "wasmcloud/echo", "0.1.0 (rev 3)", "wasmcloud_jwt", "yes"} {
		require.Contains(t, text, want)
	}

	// Signing again reuses both keys, so the actor id is stable; no new keys are announced.
	code, _, errOut = runCLI(t, context.Background(), "claims", "sign", mod, "--name", "Echo", "-d", signed)
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, errOut, "generated")
	_, got = inspectJSON(t, signed)
	require.Equal(t, module.PublicKey(), got["subject"])
	require.Equal(t, []any{}, got["caps"])
}

func TestClaimsInspectRejects(t *testing.T) {
	useTempKeys(t)
	mod := writeTinyModule(t, "m.wasm")
	code, _, errOut := runCLI(t, context.Background(), "claims", "sign", mod, "--name", "m")
	require.Equal(t, 0, code, errOut)
	signed := filepath.Join(filepath.Dir(mod), "m_s.wasm")
	good, err := os.ReadFile(signed)
	require.NoError(t, err)

	tampered := append([]byte(nil), good...)
	tampered[23] = 'j' // "hello" → "jello": the code changed after signing
	tamperedFile := filepath.Join(t.TempDir(), "tampered.wasm")
	require.NoError(t, os.WriteFile(tamperedFile, tampered, 0o644))

	code, got := inspectJSON(t, tamperedFile)
	require.Equal(t, 1, code)
	require.Equal(t, false, got["valid"])
	require.Contains(t, got["problem"], "hash")

	code, text, errOut := runCLI(t, context.Background(), "claims", "inspect", tamperedFile)
	require.Equal(t, 1, code)
	require.Contains(t, text, "no: ")
	require.Empty(t, errOut, "the table already says why")

	code, got = inspectJSON(t, mod)
	require.Equal(t, 1, code)
	require.Contains(t, got["problem"], "not signed")

	notYet := filepath.Join(t.TempDir(), "later.wasm")
	code, _, errOut = runCLI(t, context.Background(), "claims", "sign", mod, "--name", "m", "--not-before", "1h", "-d", notYet)
	require.Equal(t, 0, code, errOut)
	code, got = inspectJSON(t, notYet)
	require.Equal(t, 1, code)
	require.Contains(t, got["problem"], "not yet valid")

	garbage := filepath.Join(t.TempDir(), "garbage.wasm")
	require.NoError(t, os.WriteFile(garbage, []byte("not wasm at all"), 0o644))
	code, got = inspectJSON(t, garbage)
	require.Equal(t, 1, code)
	require.NotEmpty(t, got["problem"])
}

func TestClaimsSignErrors(t *testing.T) {
	useTempKeys(t)
	mod := writeTinyModule(t, "x.wasm")
	cluster, err := lattice.CreateKeyPair(lattice.PrefixCluster)
	require.NoError(t, err)
	clusterSeed, err := cluster.Seed()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing name", []string{"claims", "sign", mod}, `"name" not set`},
		{"missing file", []string{"claims", "sign", mod + ".nope", "--name", "x"}, "no such file"},
		{"wrong issuer kind", []string{"claims", "sign", mod, "--name", "x", "--issuer", clusterSeed}, "is a cluster seed, want an account seed"},
		{"issuer not a seed", []string{"claims", "sign", mod, "--name", "x", "--issuer", "nope"}, "--issuer: neither a seed"},
		{"bad not-before", []string{"claims", "sign", mod, "--name", "x", "--not-before", "tomorrow"}, `"tomorrow" is neither a duration`},
		{"not wasm", []string{"claims", "sign", writeGarbage(t), "--name", "x"}, "sign "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, context.Background(), tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func writeGarbage(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "garbage.wasm")
	require.NoError(t, os.WriteFile(p, []byte("garbage"), 0o644))
	return p
}

func TestSignedName(t *testing.T) {
	require.Equal(t, "build/echo_s.wasm", signedName("build/echo.wasm"))
	require.Equal(t, "echo_s.wasm", signedName("echo"))
	require.Equal(t, "echo", moduleKeyName("build/actors/echo_s.wasm"))
	require.Equal(t, "my_actor", moduleKeyName("my actor.wasm"))
}
