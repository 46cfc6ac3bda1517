package oci_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/oci"
)

// emptyModule is the smallest wasm module: the magic and the version.
var emptyModule = []byte("\x00asm\x01\x00\x00\x00")

// signedActor is a signed module (a new key each call): enough to push, pull and verify.
func signedActor(t *testing.T) latticetest.Actor {
	return latticetest.SignModule(t, emptyModule, lattice.ActorMetadata{Name: "tiny"}, lattice.SignOptions{})
}

// fakeProvider is a signed provider archive whose only target is a few bytes.
func fakeProvider(t *testing.T) latticetest.Provider {
	return latticetest.WriteArchive(t, lattice.ProviderMetadata{Name: "fake", CapID: "trellis:fake", Vendor: "Trellis"},
		map[string][]byte{lattice.TargetName(runtime.GOOS, runtime.GOARCH): []byte("#!/bin/false\n")})
}

func newClient(t *testing.T, cfg oci.Config) *oci.Client {
	t.Helper()
	c, err := oci.NewClient(cfg)
	require.NoError(t, err)
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// push pushes a file to ref on reg with the given credentials.
func push(t *testing.T, reg *latticetest.Registry, ref, path string, creds lattice.RegistryCredentialMap) *oci.Artifact {
	t.Helper()
	c := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}, Credentials: creds, AllowLatest: true})
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	a, err := c.Push(ctx(t), ref, data, nil)
	require.NoError(t, err)
	return a
}

func TestPushPullRoundTrip(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	actor := signedActor(t)
	ref := reg.Addr + "/tiny:rt"
	pushed := push(t, reg, ref, actor.Path, nil)
	require.Equal(t, oci.KindActor, pushed.Kind)

	c := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}})
	var updates []oci.ProgressUpdate
	a, err := c.Pull(ctx(t), ref, oci.KindAny, func(p oci.ProgressUpdate) { updates = append(updates, p) })
	require.NoError(t, err)
	require.Equal(t, oci.KindActor, a.Kind)
	require.Equal(t, actor.Module, a.Data)
	require.Equal(t, pushed.ManifestDigest, a.ManifestDigest)
	require.Equal(t, int64(len(actor.Module)), a.Downloaded)
	require.NotEmpty(t, updates)
	require.Equal(t, a.Size, updates[len(updates)-1].Done)

	prov := fakeProvider(t)
	push(t, reg, reg.Addr+"/fake:1", prov.Path, nil)
	p, err := c.Pull(ctx(t), reg.Addr+"/fake:1", oci.KindProvider, nil)
	require.NoError(t, err)
	require.Equal(t, oci.KindProvider, p.Kind)
	_, err = c.Pull(ctx(t), reg.Addr+"/fake:1", oci.KindActor, nil)
	require.ErrorContains(t, err, "is not a wasmCloud actor")

	_, err = c.Push(ctx(t), ref+"x", []byte("not wasm"), nil)
	require.ErrorContains(t, err, "neither a wasm module")
	_, err = c.Push(ctx(t), reg.Addr+"/tiny@"+a.ManifestDigest, actor.Module, nil)
	require.ErrorContains(t, err, "cannot be pushed to")
	tampered := append([]byte(nil), actor.Module...)
	tampered[len(tampered)/2] ^= 0xff
	_, err = c.Push(ctx(t), reg.Addr+"/tiny:bad", tampered, nil)
	require.ErrorContains(t, err, "not a validly signed actor")
}

// TestPullFailuresNameTheReferenceAndTheReason: every error says "pull REF: reason".
func TestPullFailuresNameTheReferenceAndTheReason(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	dead := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	actor, prov := signedActor(t), fakeProvider(t)
	actorRef, provRef := reg.Addr+"/tiny:1.0.0", reg.Addr+"/fake:1.0.0"
	push(t, reg, actorRef, actor.Path, nil)
	push(t, reg, provRef, prov.Path, nil)
	push(t, reg, reg.Addr+"/tiny:latest", actor.Path, nil)
	_, port, err := net.SplitHostPort(reg.Addr)
	require.NoError(t, err)
	c := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr, dead}})

	tests := []struct {
		name, ref string
		kind      oci.Kind
		want      string
	}{
		{"unreachable", dead + "/tiny:1.0.0", oci.KindActor, "registry " + dead + " unreachable"},
		{"unknown tag", reg.Addr + "/tiny:9.9.9", oci.KindActor, "manifest unknown: repository tiny of " + reg.Addr + " has no tag 9.9.9"},
		{"unknown repository", reg.Addr + "/nope:1.0.0", oci.KindProvider, "manifest unknown"},
		{"provider pulled as actor", provRef, oci.KindActor, "media type " + lattice.MediaTypeProviderLayer + " is not a wasmCloud actor"},
		{"actor pulled as provider", actorRef, oci.KindProvider, "media type " + lattice.MediaTypeActorLayer + " is not a wasmCloud provider archive"},
		{"latest", reg.Addr + "/tiny:latest", oci.KindAny, ":latest is refused; pin a version, or pass --allow-latest"},
		{"no tag", reg.Addr + "/tiny", oci.KindAny, "no tag means :latest"},
		{"plain HTTP not allowed", "localhost:" + port + "/tiny:1.0.0", oci.KindAny, "localhost:" + port + " is plain HTTP and not in --allowed-insecure"},
		{"no registry", "tiny:1.0.0", oci.KindAny, "no registry host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Pull(ctx(t), tt.ref, tt.kind, nil)
			require.ErrorContains(t, err, "pull "+tt.ref+": ")
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestAdviceIsTheCallers(t *testing.T) {
	c := newClient(t, oci.Config{Advice: oci.Advice{Latest: "pass --allow-latest to reg push"}})
	_, err := c.Push(ctx(t), "reg.example/tiny:latest", emptyModule, nil)
	require.EqualError(t, err, "push reg.example/tiny:latest: :latest is refused; pass --allow-latest to reg push")
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, oci.DefaultConfig().Validate())
	require.NoError(t, oci.Config{AllowedInsecure: []string{"127.0.0.1:5000", "http://Reg.example/v2/"}}.Validate())
	for _, bad := range []string{"", "  ", "reg example:5000"} {
		err := oci.Config{AllowedInsecure: []string{bad}}.Validate()
		require.ErrorContains(t, err, fmt.Sprintf("allowed insecure registry %q: want host[:port]", bad))
		_, err = oci.NewClient(oci.Config{AllowedInsecure: []string{bad}})
		require.Error(t, err)
	}
}

func TestCache(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	ref := reg.Addr + "/tiny:0.2.0"
	first := signedActor(t)
	a1 := push(t, reg, ref, first.Path, nil)
	c := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}, CacheDir: t.TempDir()})

	got, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)
	require.Equal(t, first.Module, got.Data)
	require.Equal(t, 1, reg.BlobGets(a1.LayerDigest))
	heads := reg.Requests(http.MethodHead, "/manifests/0.2.0")
	gets := reg.Requests(http.MethodGet, "/manifests/")

	// Again: the tag is resolved again, nothing is downloaded, the progress says cached.
	var updates []oci.ProgressUpdate
	got, err = c.Pull(ctx(t), ref, oci.KindActor, func(p oci.ProgressUpdate) { updates = append(updates, p) })
	require.NoError(t, err)
	require.Equal(t, first.Module, got.Data)
	require.Zero(t, got.Downloaded)
	require.Equal(t, []oci.ProgressUpdate{{Digest: a1.LayerDigest, Done: a1.Size, Total: a1.Size, Cached: true}}, updates)
	require.Equal(t, 1, reg.BlobGets(a1.LayerDigest), "the layer was downloaded again")
	require.Equal(t, gets, reg.Requests(http.MethodGet, "/manifests/"), "the manifest was downloaded again")
	require.Greater(t, reg.Requests(http.MethodHead, "/manifests/0.2.0"), heads, "the tag was not resolved again")

	// The tag moves: the new artifact is pulled.
	second := signedActor(t)
	a2 := push(t, reg, ref, second.Path, nil)
	got, err = c.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)
	require.Equal(t, second.Module, got.Data)
	require.Equal(t, 1, reg.BlobGets(a2.LayerDigest))

	// A reference pinned by digest is served from the cache without asking the registry.
	before := len(reg.Log())
	got, err = c.Pull(ctx(t), reg.Addr+"/tiny@"+a1.ManifestDigest, oci.KindActor, nil)
	require.NoError(t, err)
	require.Equal(t, first.Module, got.Data)
	require.Equal(t, before, len(reg.Log()), "a cached digest needs no request")

	// The registry is down: a reference pulled before comes from the cache, others fail.
	reg.SetDown(true)
	got, err = c.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)
	require.True(t, got.Offline)
	require.Equal(t, second.Module, got.Data)
	_, err = c.Pull(ctx(t), reg.Addr+"/tiny:0.2.1", oci.KindActor, nil)
	require.ErrorContains(t, err, "pull "+reg.Addr+"/tiny:0.2.1: registry "+reg.Addr+" unreachable")
	require.ErrorContains(t, err, "connection refused")
}

// TestCorruptCacheBlobIsDownloadedAgain: a cached blob is verified against its digest when read.
func TestCorruptCacheBlobIsDownloadedAgain(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	ref := reg.Addr + "/tiny:0.4.0"
	actor := signedActor(t)
	a := push(t, reg, ref, actor.Path, nil)
	dir := t.TempDir()
	c := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}, CacheDir: dir})
	_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)

	alg, hex, ok := strings.Cut(a.LayerDigest, ":")
	require.True(t, ok)
	blob := filepath.Join(dir, "blobs", alg, hex)
	require.FileExists(t, blob)
	require.NoError(t, os.WriteFile(blob, []byte("corrupt"), 0o644))
	got, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)
	require.Equal(t, actor.Module, got.Data)
	require.Equal(t, 2, reg.BlobGets(a.LayerDigest))
}

// TestCredentials: registries.put first, then the configured credentials, then the docker
// config; anonymous otherwise, with errors that say which source was refused.
func TestCredentials(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	good := lattice.RegistryCredentialMap{reg.Addr: {Username: "alice", Password: "s3cret"}}
	wrong := lattice.RegistryCredentialMap{reg.Addr: {Username: "alice", Password: "wrong"}}
	actor := signedActor(t)
	ref := reg.Addr + "/private/tiny:1.0.0"
	push(t, reg, ref, actor.Path, good)
	insecure := []string{reg.Addr}

	dockerConfig := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	require.NoError(t, os.WriteFile(dockerConfig, []byte(`{"auths":{"`+reg.Addr+`":{"auth":"`+auth+`"}}}`), 0o600))

	t.Run("anonymous push refused", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure})
		_, err := c.Push(ctx(t), reg.Addr+"/private/other:1", actor.Module, nil)
		require.ErrorContains(t, err, "unauthorized: anonymous push refused")
	})
	t.Run("anonymous pull refused", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure})
		_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.EqualError(t, err, "pull "+ref+": unauthorized: anonymous pull refused; set registry credentials with registries.put or OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD")
	})
	t.Run("configured credentials", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure, Credentials: good})
		_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.NoError(t, err)
	})
	t.Run("wrong configured credentials", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure, Credentials: wrong, DockerConfig: dockerConfig})
		_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.ErrorContains(t, err, "unauthorized: registry "+reg.Addr+" refused the credentials from the host's configured credentials")
	})
	t.Run("docker config", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure, DockerConfig: dockerConfig})
		_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.NoError(t, err)
	})
	t.Run("registries.put comes first", func(t *testing.T) {
		c := newClient(t, oci.Config{AllowedInsecure: insecure, Credentials: good})
		require.Equal(t, 1, c.PutCredentials(lattice.RegistryCredentialMap{
			"http://" + reg.Addr + "/": {Username: "alice", Password: "nope"},
			"bindle.example":           {RegistryType: "bindle", Username: "x"},
		}), "a bindle entry is ignored")
		_, err := c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.ErrorContains(t, err, "refused the credentials from registries.put")
		require.Equal(t, 1, c.PutCredentials(lattice.RegistryCredentialMap{reg.Addr: {RegistryType: "oci", Username: "alice", Password: "s3cret"}}))
		_, err = c.Pull(ctx(t), ref, oci.KindActor, nil)
		require.NoError(t, err)
	})
}

func TestDetectKind(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want oci.Kind
		err  bool
	}{
		{"wasm", emptyModule, oci.KindActor, false},
		{"gzip", []byte{0x1f, 0x8b, 8, 0}, oci.KindProvider, false},
		{"empty", nil, oci.KindAny, true},
		{"text", []byte("hello"), oci.KindAny, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oci.DetectKind(tt.in)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.err, err != nil, "%v", err)
		})
	}
}
