package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// isolateOCIEnv keeps the user's registry settings out of a test.
func isolateOCIEnv(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, v := range []string{"OCI_REGISTRY", "OCI_REGISTRY_USER", "OCI_REGISTRY_PASSWORD", "WASH_REG_USER", "WASH_REG_PASSWORD"} {
		t.Setenv(v, "")
	}
}

func TestRegPushAndPull(t *testing.T) {
	useTempKeys(t)
	isolateOCIEnv(t)
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	mod := writeTinyModule(t, "tiny.wasm")
	signed := filepath.Join(t.TempDir(), "tiny_s.wasm")
	code, _, errOut := runCLI(t, ctx, "claims", "sign", mod, "--name", "tiny", "-d", signed)
	require.Equal(t, 0, code, errOut)
	module, err := os.ReadFile(signed)
	require.NoError(t, err)
	claims, err := lattice.VerifyActor(module, time.Now())
	require.NoError(t, err)
	ref := reg.Addr + "/tiny:0.1.0"

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain HTTP without --insecure", []string{"reg", "push", ref, signed, "-u", "alice", "-p", "s3cret"}, reg.Addr + " is plain HTTP; pass --insecure to use it"},
		{"anonymous", []string{"reg", "push", ref, signed, "--insecure"}, "push " + ref + ": unauthorized: anonymous push refused; pass --user and --password"},
		{"wrong password", []string{"reg", "push", ref, signed, "--insecure", "-u", "alice", "-p", "nope"}, "refused the credentials"},
		{"user without password", []string{"reg", "push", ref, signed, "--insecure", "-u", "alice"}, "--user and --password go together"},
		{"latest", []string{"reg", "push", reg.Addr + "/tiny", signed, "--insecure"}, "no tag means :latest, and :latest is refused"},
		{"not an artifact", []string{"reg", "push", ref, mod, "--insecure", "-u", "alice", "-p", "s3cret"}, "not a validly signed actor"},
		{"no such file", []string{"reg", "push", ref, signed + ".nope", "--insecure"}, "no such file"},
		{"bad reference", []string{"reg", "pull", "tiny:0.1.0"}, "no registry host"},
		{"unknown tag", []string{"reg", "pull", reg.Addr + "/tiny:9", "--insecure", "-u", "alice", "-p", "s3cret"}, "manifest unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, ctx, tt.args...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tt.want)
		})
	}

	code, out, errOut := runCLI(t, ctx, "reg", "push", ref, signed, "--insecure", "-u", "alice", "-p", "s3cret", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var pushed regResult
	require.NoError(t, json.Unmarshal([]byte(out), &pushed), out)
	require.Equal(t, regResult{Ref: ref, Kind: "actor", Key: claims.Subject, ManifestDigest: pushed.ManifestDigest,
		LayerDigest: pushed.LayerDigest, Size: int64(len(module)), File: signed}, pushed)

	// Pull with wasmCloud's variables, into the default file name.
	t.Setenv("OCI_REGISTRY", reg.Addr)
	t.Setenv("OCI_REGISTRY_USER", "alice")
	t.Setenv("OCI_REGISTRY_PASSWORD", "s3cret")
	t.Chdir(t.TempDir())
	code, out, errOut = runCLI(t, ctx, "reg", "pull", ref, "--insecure")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Pulled actor "+claims.Subject)
	got, err := os.ReadFile("tiny.wasm")
	require.NoError(t, err)
	require.Equal(t, module, got)
}

func TestOCIEnvCredentials(t *testing.T) {
	tests := []struct {
		reg, user, pass string
		want            lattice.RegistryCredentialMap
		err             string
	}{
		{"", "", "", nil, ""},
		{"r:5000", "", "", nil, ""},
		{"r:5000", "u", "p", lattice.RegistryCredentialMap{"r:5000": {RegistryType: "oci", Username: "u", Password: "p"}}, ""},
		{"", "u", "p", nil, "OCI_REGISTRY is not"},
		{"r:5000", "u", "", nil, "go together"},
	}
	for _, tt := range tests {
		t.Setenv("OCI_REGISTRY", tt.reg)
		t.Setenv("OCI_REGISTRY_USER", tt.user)
		t.Setenv("OCI_REGISTRY_PASSWORD", tt.pass)
		got, err := ociEnvCredentials()
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 2_050_704: "2.0 MiB", 5 << 30: "5.0 GiB"} {
		require.Equal(t, want, humanBytes(n))
	}
}
