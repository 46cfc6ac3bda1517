package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParCreateInspect(t *testing.T) {
	useTempKeys(t)
	dir := t.TempDir()
	amd, arm := filepath.Join(dir, "p-amd64"), filepath.Join(dir, "p-arm64")
	require.NoError(t, os.WriteFile(amd, []byte("#!/bin/sh\necho amd64\n"), 0o755))
	require.NoError(t, os.WriteFile(arm, []byte("#!/bin/sh\necho arm64\n"), 0o755))
	dest := filepath.Join(dir, "kv.par.gz")
	ctx := context.Background()

	code, stdout, stderr := runCLI(t, ctx, "par", "create", "--capid", "wasmcloud:keyvalue", "--name", "kv", "--vendor", "Trellis",
		"--binary", "x86_64-linux="+amd, "--binary", "aarch64-linux="+arm, "-d", dest, "-o", "json")
	require.Equal(t, 0, code, stderr)
	var created map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &created))
	id := created["provider_id"].(string)
	require.Len(t, id, 56)
	require.Equal(t, "V", id[:1])

	code, stdout, stderr = runCLI(t, ctx, "par", "inspect", dest, "-o", "json")
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Equal(t, id, got["provider_id"])
	require.Equal(t, "wasmcloud:keyvalue", got["capid"])
	require.Equal(t, []any{"aarch64-linux", "x86_64-linux"}, got["targets"])

	// The same name reuses the service key, so the provider keeps its id.
	code, stdout, _ = runCLI(t, ctx, "par", "create", "--capid", "wasmcloud:keyvalue", "--name", "kv", "--vendor", "Trellis",
		"--binary", "x86_64-linux="+amd, "-d", dest, "-o", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &created))
	require.Equal(t, id, created["provider_id"])

	// A tampered archive is refused by inspect, naming the reason.
	raw, err := os.ReadFile(dest)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0xff
	bad := filepath.Join(dir, "bad.par.gz")
	require.NoError(t, os.WriteFile(bad, raw, 0o644))
	code, _, stderr = runCLI(t, ctx, "par", "inspect", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "par inspect "+bad)
}

func TestParCreateErrors(t *testing.T) {
	useTempKeys(t)
	ctx := context.Background()
	code, _, stderr := runCLI(t, ctx, "par", "create", "--capid", "c", "--name", "n", "--vendor", "v", "--binary", "/nonexistent/bin")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "/nonexistent/bin")
	code, _, stderr = runCLI(t, ctx, "par", "create", "--capid", "c", "--name", "n", "--vendor", "v", "--binary", "x86_64-linux=")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "want TARGET=PATH")
	code, _, stderr = runCLI(t, ctx, "par", "create", "--name", "n", "--vendor", "v", "--binary", "x")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "capid")
}
