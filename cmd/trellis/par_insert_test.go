package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestParInsert(t *testing.T) {
	useTempKeys(t)
	ctx := context.Background()
	dir := t.TempDir()
	amd, arm := filepath.Join(dir, "p-amd64"), filepath.Join(dir, "p-arm64")
	require.NoError(t, os.WriteFile(amd, []byte("#!/bin/sh\necho amd64\n"), 0o755))
	require.NoError(t, os.WriteFile(arm, []byte("#!/bin/sh\necho arm64\n"), 0o755))
	archive := filepath.Join(dir, "kv.par.gz")
	code, _, errOut := runCLI(t, ctx, "par", "create", "--capid", "wasmcloud:keyvalue", "--name", "kv", "--vendor", "Trellis",
		"--ver", "0.2.0", "--rev", "2", "--binary", "x86_64-linux="+amd, "-d", archive)
	require.Equal(t, 0, code, errOut)
	before, err := os.ReadFile(archive)
	require.NoError(t, err)
	orig := readPARFile(t, archive)

	// Refusals leave the archive as it was.
	other := latticetest.Key(t, lattice.PrefixService)
	otherSeed, _ := other.Seed()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--binary", "x86_64-linux=" + arm}, "already has a x86_64-linux binary; pass --replace"},
		{[]string{"--binary", arm}, "want TARGET=PATH, or PATH with --arch"},
		{[]string{"--binary", "aarch64-linux=" + arm, "--arch", "aarch64-linux"}, "--arch is the target of a --binary given as a bare PATH"},
		{[]string{"--binary", "aarch64-linux=/nonexistent"}, "target aarch64-linux: open /nonexistent"},
		{[]string{"--binary", "aarch64-linux=" + arm, "--subject", otherSeed}, "subject key " + other.PublicKey() + " is not the archive's subject " + orig.Claims.Subject},
	} {
		code, out, errOut := runCLI(t, ctx, append([]string{"par", "insert", archive}, tc.args...)...)
		require.Equal(t, 1, code, out)
		require.Contains(t, errOut, tc.want)
		after, err := os.ReadFile(archive)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused insert leaves the archive as it was")
	}

	// wash's form: --arch and a bare --binary.
	code, out, errOut := runCLI(t, ctx, "par", "insert", archive, "--arch", "aarch64-linux", "--binary", arm, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, []any{"aarch64-linux"}, res["inserted"])
	require.Equal(t, []any{"aarch64-linux", "x86_64-linux"}, res["targets"])

	code, out, errOut = runCLI(t, ctx, "par", "inspect", archive, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, true, got["valid"])
	require.Equal(t, []any{"aarch64-linux", "x86_64-linux"}, got["targets"])
	require.Equal(t, orig.Claims.Subject, got["provider_id"], "the provider keeps its id")

	par := readPARFile(t, archive) // the claims verify, with both hashes
	require.Len(t, par.Claims.Provider.TargetHashes, 2)
	require.Equal(t, orig.Claims.Provider.TargetHashes["x86_64-linux"], par.Claims.Provider.TargetHashes["x86_64-linux"])
	require.Equal(t, "0.2.0", par.Claims.Provider.Ver)
	require.Equal(t, 2, par.Claims.Provider.Rev)
	require.Equal(t, "kv", par.Claims.Provider.Name)
	require.NotEqual(t, orig.Claims.ID, par.Claims.ID, "signed again")

	// --replace swaps a binary; --destination writes elsewhere.
	dest := filepath.Join(dir, "kv2.par.gz")
	code, _, errOut = runCLI(t, ctx, "par", "insert", archive, "--binary", "x86_64-linux="+arm, "--replace", "--destination", dest)
	require.Equal(t, 0, code, errOut)
	replaced := readPARFile(t, dest)
	require.Equal(t, par.Claims.Provider.TargetHashes["aarch64-linux"], replaced.Claims.Provider.TargetHashes["x86_64-linux"])
}

func readPARFile(t *testing.T, path string) *lattice.ProviderArchive {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	par, err := lattice.ReadPAR(f)
	require.NoError(t, err)
	return par
}
