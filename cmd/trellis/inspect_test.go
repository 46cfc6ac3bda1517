package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestInspectOCI inspects an actor and a provider archive in a local registry: the claims are
// printed from memory, without a lattice, a host or a file written.
func TestInspectOCI(t *testing.T) {
	useTempKeys(t)
	isolateOCIEnv(t)
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	mod := writeTinyModule(t, "tiny.wasm")
	signed := filepath.Join(t.TempDir(), "tiny_s.wasm")
	code, _, errOut := runCLI(t, ctx, "claims", "sign", mod, "--name", "tiny", "--cap", "wasmcloud:httpserver,wasmcloud:keyvalue",
		"--call-alias", "demo/tiny", "--rev", "3", "--ver", "0.3.0", "--tag", "demo", "--expires-in", "24h", "-d", signed)
	require.Equal(t, 0, code, errOut)
	module, err := os.ReadFile(signed)
	require.NoError(t, err)
	claims, err := lattice.VerifyActor(module, time.Now())
	require.NoError(t, err)

	dir := t.TempDir()
	bin := filepath.Join(dir, "p-amd64")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho amd64\n"), 0o755))
	par := filepath.Join(dir, "kv.par.gz")
	code, _, errOut = runCLI(t, ctx, "par", "create", "--capid", "wasmcloud:keyvalue", "--name", "kv", "--vendor", "Trellis",
		"--binary", "x86_64-linux="+bin, "--binary", "aarch64-linux="+bin, "-d", par)
	require.Equal(t, 0, code, errOut)
	archive := readPARFile(t, par)

	actorRef, parRef := reg.Addr+"/tiny:0.3.0", reg.Addr+"/kv:0.1.0"
	auth := []string{"--insecure", "-u", "alice", "-p", "s3cret"}
	var pushed regResult
	for ref, file := range map[string]string{actorRef: signed, parRef: par} {
		code, out, errOut := runCLI(t, ctx, append([]string{"reg", "push", ref, file, "-o", "json"}, auth...)...)
		require.Equal(t, 0, code, errOut)
		if ref == actorRef {
			require.NoError(t, json.Unmarshal([]byte(out), &pushed))
		}
	}
	t.Chdir(t.TempDir())

	code, out, errOut := runCLI(t, ctx, append([]string{"inspect", actorRef}, auth...)...)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"Pulled " + actorRef + " into memory: manifest " + pushed.ManifestDigest, "nothing started",
		claims.Subject, claims.Issuer, "wasmcloud:httpserver, wasmcloud:keyvalue", "demo/tiny", "0.3.0 (rev 3)",
		"Expires", unixTime(claims.Expires), "Valid             yes", claims.Actor.Hash,
	} {
		require.Contains(t, out, want)
	}

	code, out, errOut = runCLI(t, ctx, append([]string{"inspect", actorRef, "-o", "json", "--digest", pushed.ManifestDigest}, auth...)...)
	require.Equal(t, 0, code, errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, "actor", got["kind"])
	require.Equal(t, claims.Subject, got["subject"])
	require.Equal(t, []any{"wasmcloud:httpserver", "wasmcloud:keyvalue"}, got["caps"])
	require.Equal(t, []any{"demo"}, got["tags"])
	require.Equal(t, "demo/tiny", got["call_alias"])
	require.Equal(t, true, got["valid"])
	require.Equal(t, pushed.ManifestDigest, got["manifest_digest"])
	require.Equal(t, actorRef, got["ref"])

	code, out, errOut = runCLI(t, ctx, append([]string{"inspect", actorRef, "--jwt-only"}, auth...)...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, claims.Token+"\n", out)

	code, out, errOut = runCLI(t, ctx, append([]string{"inspect", parRef}, auth...)...)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"Pulled " + parRef, archive.Claims.Subject, "wasmcloud:keyvalue", "Trellis", "targets:     aarch64-linux, x86_64-linux",
		"x86_64-linux     sha256 " + archive.Claims.Provider.TargetHashes["x86_64-linux"], "valid:       yes",
	} {
		require.Contains(t, out, want)
	}
	code, out, errOut = runCLI(t, ctx, append([]string{"inspect", parRef, "-o", "json"}, auth...)...)
	require.Equal(t, 0, code, errOut)
	got = nil
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, "provider", got["kind"])
	require.Equal(t, archive.Claims.Subject, got["provider_id"])
	require.Equal(t, map[string]any{"aarch64-linux": archive.Claims.Provider.TargetHashes["aarch64-linux"],
		"x86_64-linux": archive.Claims.Provider.TargetHashes["x86_64-linux"]}, got["target_hashes"])

	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	require.Empty(t, entries, "inspect writes nothing")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"anonymous", []string{"inspect", actorRef, "--insecure"}, "unauthorized: anonymous pull refused"},
		{"digest mismatch", append([]string{"inspect", actorRef, "--digest", "sha256:" + strings.Repeat("0", 64)}, auth...), "digest mismatch"},
		{"unknown tag", append([]string{"inspect", reg.Addr + "/tiny:9.9.9"}, auth...), "manifest unknown"},
		{"neither file nor reference", []string{"inspect", "nothing-here.wasm"}, "inspect nothing-here.wasm: no such file, and not an OCI reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, ctx, tc.args...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// TestInspectFiles: inspect reads files too, like claims inspect and par inspect, with the same
// fields and exit codes.
func TestInspectFiles(t *testing.T) {
	useTempKeys(t)
	ctx := context.Background()
	mod := writeTinyModule(t, "tiny.wasm")
	code, out, _ := runCLI(t, ctx, "inspect", mod)
	require.Equal(t, 1, code, "an unsigned module is not valid")
	require.Contains(t, out, "Valid")
	require.Contains(t, out, "no: ")

	signed := filepath.Join(t.TempDir(), "tiny_s.wasm")
	code, _, errOut := runCLI(t, ctx, "claims", "sign", mod, "--name", "tiny", "-d", signed)
	require.Equal(t, 0, code, errOut)
	code, viaInspect, errOut := runCLI(t, ctx, "inspect", signed, "-o", "json")
	require.Equal(t, 0, code, errOut)
	code, viaClaims, errOut := runCLI(t, ctx, "claims", "inspect", signed, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var a, b map[string]any
	require.NoError(t, json.Unmarshal([]byte(viaInspect), &a))
	require.NoError(t, json.Unmarshal([]byte(viaClaims), &b))
	delete(a, "kind")
	require.Equal(t, b, a, "one shape for an actor's inspection")

	code, _, errOut = runCLI(t, ctx, "inspect", signed, "--digest", "sha256:"+strings.Repeat("0", 64))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--digest is for an OCI reference")

	junk := filepath.Join(t.TempDir(), "junk")
	require.NoError(t, os.WriteFile(junk, []byte("hello"), 0o644))
	code, _, errOut = runCLI(t, ctx, "inspect", junk)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "neither a wasm module")
}
