package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestRegPing(t *testing.T) {
	isolateOCIEnv(t)
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	open := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	unreachable := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	ctx := context.Background()

	code, out, errOut := runCLI(t, ctx, "reg", "ping", reg.Addr, "--insecure", "-u", "alice", "-p", "s3cret")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Registry "+reg.Addr+" answered (http://"+reg.Addr+"/v2/, credentials from")
	code, out, errOut = runCLI(t, ctx, "reg", "ping", "http://"+open.Addr+"/v2/", "--insecure", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var res pingResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, pingResult{Registry: open.Addr, OK: true, PlainHTTP: true, ElapsedMS: res.ElapsedMS}, res)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"anonymous", []string{reg.Addr, "--insecure"}, "ping " + reg.Addr + ": unauthorized: anonymous access refused; pass --user and --password"},
		{"wrong password", []string{reg.Addr, "--insecure", "-u", "alice", "-p", "nope"}, "refused the credentials"},
		{"plain HTTP without --insecure", []string{open.Addr}, open.Addr + " is plain HTTP; pass --insecure"},
		{"unreachable", []string{unreachable, "--insecure"}, "ping " + unreachable + ": registry " + unreachable + " unreachable"},
		{"no host", []string{"http:///v2/"}, "want a registry host[:port]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, ctx, append([]string{"reg", "ping"}, tc.args...)...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestRegPullDigest(t *testing.T) {
	useTempKeys(t)
	isolateOCIEnv(t)
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	ctx := context.Background()
	mod := writeTinyModule(t, "tiny.wasm")
	signed := filepath.Join(t.TempDir(), "tiny_s.wasm")
	code, _, errOut := runCLI(t, ctx, "claims", "sign", mod, "--name", "tiny", "-d", signed)
	require.Equal(t, 0, code, errOut)
	ref := reg.Addr + "/tiny:0.1.0"
	code, out, errOut := runCLI(t, ctx, "reg", "push", ref, signed, "--insecure", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var pushed regResult
	require.NoError(t, json.Unmarshal([]byte(out), &pushed))

	dir := t.TempDir()
	dest := filepath.Join(dir, "got.wasm")
	code, out, errOut = runCLI(t, ctx, "reg", "pull", ref, "--insecure", "--digest", pushed.ManifestDigest, "-d", dest, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var pulled regResult
	require.NoError(t, json.Unmarshal([]byte(out), &pulled))
	require.Equal(t, pushed.ManifestDigest, pulled.ManifestDigest)
	want, err := os.ReadFile(signed)
	require.NoError(t, err)
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	require.Equal(t, want, got)

	other := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, ref, digest, want string
	}{
		{"mismatch", ref, other, "pull " + ref + ": digest mismatch: the reference resolved to manifest " + pushed.ManifestDigest + ", not " + other + " (--digest); nothing written"},
		{"malformed", ref, "sha256:xyz", `--digest "sha256:xyz": want 64 lowercase hex digits`},
		{"pinned elsewhere", ref + "@" + pushed.ManifestDigest, other, "the reference pins " + pushed.ManifestDigest + " but --digest says " + other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(dir, tc.name+".wasm")
			code, out, errOut := runCLI(t, ctx, "reg", "pull", tc.ref, "--insecure", "--digest", tc.digest, "-d", dest)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tc.want)
			require.NoFileExists(t, dest)
		})
	}
}
