package host_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/oci"
)

// ociEcho is a freshly signed echo actor (a new key each call).
func ociEcho(t *testing.T) latticetest.Actor {
	return latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{
		Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
}

// The host's side of OCI: starts from references, the cache under the data dir, refmaps, pull
// progress events, registries.put and errors on the ack or event. The client itself is tested in
// oci/.

// pushTo pushes a file to ref on reg with the given credentials.
func pushTo(t *testing.T, reg *latticetest.Registry, ref, path string, creds lattice.RegistryCredentialMap) *oci.Artifact {
	t.Helper()
	c, err := oci.NewClient(oci.Config{AllowedInsecure: []string{reg.Addr}, Credentials: creds, AllowLatest: true})
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := c.Push(ctx, ref, data, nil)
	require.NoError(t, err)
	return a
}

// fakeProvider is a signed provider archive whose only target is a few bytes: enough to push,
// pull and verify (a real one takes a minute to gzip under -race); integration/oci_test.go runs a
// real provider from a registry.
func fakeProvider(t *testing.T) latticetest.Provider {
	return latticetest.WriteArchive(t, lattice.ProviderMetadata{Name: "fake", CapID: "trellis:fake", Vendor: "Trellis"},
		map[string][]byte{lattice.TargetName(runtime.GOOS, runtime.GOARCH): []byte("#!/bin/false\n")})
}

func insecure(reg *latticetest.Registry) hosttest.Option {
	return func(c *host.Config) { c.AllowedInsecure = []string{reg.Addr} }
}

// TestOCIStartActorFromReference: the actor runs, the pull's progress is published, the refmap is
// stored and announced, and the inventory and the claims name the reference. (A provider from a
// reference runs in integration/oci_test.go.)
func TestOCIStartActorFromReference(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	l := hosttest.New(t)
	h := l.StartHost(insecure(reg), func(c *host.Config) { c.AllowFileLoad = nil })
	echo := ociEcho(t)
	actorRef := reg.Addr + "/echo:0.1.0"
	pushed := pushTo(t, reg, actorRef, echo.Path, nil)

	require.Equal(t, echo.ID, l.StartActor(h, actorRef, 1))

	// Progress was reported, ending with every byte.
	progress := l.Events.Find(lattice.EventImagePullProgress, func(d map[string]any) bool {
		return d["image_ref"] == actorRef && d["bytes"] == d["total"]
	})
	require.NotEmpty(t, progress)
	require.Equal(t, h.ID(), progress[0].Source)
	require.Equal(t, float64(pushed.Size), l.Events.Wait(t, lattice.EventImagePullProgress, func(d map[string]any) bool {
		return d["image_ref"] == actorRef
	})["total"])

	// Refmaps: in the bucket, and announced.
	l.Events.Wait(t, lattice.EventRefmapSet, func(d map[string]any) bool { return d["oci_url"] == actorRef && d["public_key"] == echo.ID })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := lattice.OpenStore(ctx, latticetest.JetStream(t, l.NC), lattice.DefaultLattice, 1)
	require.NoError(t, err)
	refs, err := store.RefMaps(ctx)
	require.NoError(t, err)
	require.Equal(t, []lattice.RefMap{{OCIURL: actorRef, PublicKey: echo.ID}}, refs)

	// The inventory and the claims show the references.
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Actors, 1)
	require.Equal(t, actorRef, inv.Actors[0].ImageRef)
	claims, err := l.Ctl.GetClaims(ctx)
	require.NoError(t, err)
	require.Len(t, claims, 1)
	require.Equal(t, echo.ID, claims[0]["sub"])
	require.Equal(t, actorRef, claims[0]["image_ref"])
}

func TestOCICacheAndRepull(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	l := hosttest.New(t)
	h := l.StartHost(insecure(reg))
	ref := reg.Addr + "/echo:0.2.0"
	first := ociEcho(t)
	a1 := pushTo(t, reg, ref, first.Path, nil)
	require.Equal(t, 0, reg.BlobGets(a1.LayerDigest))

	require.Equal(t, first.ID, l.StartActor(h, ref, 1))
	require.Equal(t, 1, reg.BlobGets(a1.LayerDigest))
	heads := reg.Requests(http.MethodHead, "/manifests/0.2.0")
	gets := reg.Requests(http.MethodGet, "/manifests/")

	// Again: the tag is resolved again, nothing is downloaded.
	require.Equal(t, first.ID, l.StartActor(h, ref, 1))
	require.Equal(t, 1, reg.BlobGets(a1.LayerDigest), "the layer was downloaded again")
	require.Equal(t, gets, reg.Requests(http.MethodGet, "/manifests/"), "the manifest was downloaded again")
	require.Greater(t, reg.Requests(http.MethodHead, "/manifests/0.2.0"), heads, "the tag was not resolved again")
	l.Events.Wait(t, lattice.EventImagePullProgress, func(d map[string]any) bool { return d["image_ref"] == ref && d["cached"] == true })

	// The tag moves to another actor: it is pulled.
	second := ociEcho(t)
	a2 := pushTo(t, reg, ref, second.Path, nil)
	require.NotEqual(t, a1.ManifestDigest, a2.ManifestDigest)
	require.Equal(t, second.ID, l.StartActor(h, ref, 1))
	require.Equal(t, 1, reg.BlobGets(a2.LayerDigest))

	// A reference pinned by digest is served from the cache without asking the registry.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: first.ID, HostID: h.ID()}))
	require.Eventually(t, func() bool {
		inv, err := l.Ctl.GetInventory(ctx, h.ID())
		return err == nil && len(inv.Actors) == 1
	}, 10*time.Second, 10*time.Millisecond)
	before := len(reg.Log())
	pinned := reg.Addr + "/echo@" + a1.ManifestDigest
	require.Equal(t, first.ID, l.StartActor(h, pinned, 1))
	require.Equal(t, before, len(reg.Log()), "a cached digest needs no request")
}

func TestOCIRegistryUnreachableUsesTheCache(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	l := hosttest.New(t)
	h := l.StartHost(insecure(reg))
	ref := reg.Addr + "/echo:0.3.0"
	echo := ociEcho(t)
	pushTo(t, reg, ref, echo.Path, nil)
	require.Equal(t, echo.ID, l.StartActor(h, ref, 1))

	reg.SetDown(true)
	require.Equal(t, echo.ID, l.StartActor(h, ref, 1), "a reference pulled before starts from the cache")
	msg := l.StartActorFails(h, reg.Addr+"/echo:0.3.1")
	require.Contains(t, msg, "pull "+reg.Addr+"/echo:0.3.1: registry "+reg.Addr+" unreachable")
	require.Contains(t, msg, "connection refused")
}

func TestOCIStartFailuresNameTheReferenceAndTheReason(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	l := hosttest.New(t)
	dead := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	h := l.StartHost(func(c *host.Config) { c.AllowedInsecure = []string{reg.Addr, dead} })
	echo := ociEcho(t)
	prov := fakeProvider(t)
	actorRef, provRef := reg.Addr+"/echo:1.0.0", reg.Addr+"/httpserver:1.0.0"
	pushTo(t, reg, actorRef, echo.Path, nil)
	pushTo(t, reg, provRef, prov.Path, nil)
	pushTo(t, reg, reg.Addr+"/echo:latest", echo.Path, nil)
	_, port, err := net.SplitHostPort(reg.Addr)
	require.NoError(t, err)
	notAllowed := "localhost:" + port + "/echo:1.0.0"

	tests := []struct {
		name, ref string
		provider  bool
		want      string
	}{
		{"unreachable", dead + "/echo:1.0.0", false, "registry " + dead + " unreachable"},
		{"unknown tag", reg.Addr + "/echo:9.9.9", false, "manifest unknown"},
		{"unknown repository", reg.Addr + "/nope:1.0.0", true, "manifest unknown"},
		{"provider started as actor", provRef, false, "media type " + lattice.MediaTypeProviderLayer + " is not a wasmCloud actor"},
		{"actor started as provider", actorRef, true, "media type " + lattice.MediaTypeActorLayer + " is not a wasmCloud provider archive"},
		{"latest", reg.Addr + "/echo:latest", false, ":latest is refused; pin a version, or pass --allow-latest"},
		{"no tag", reg.Addr + "/echo", true, "no tag means :latest"},
		{"plain HTTP not allowed", notAllowed, false, "localhost:" + port + " is plain HTTP and not in --allowed-insecure"},
		{"no registry", "echo:1.0.0", false, "no registry host"},
		{"missing actor file", "nosuch_s.wasm", false, "nosuch_s.wasm is neither a file under a directory this host loads files from"},
		{"missing archive file", "nosuch.par.gz", true, "nosuch.par.gz is neither a file under a directory this host loads files from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg string
			if tt.provider {
				msg = l.StartProviderFails(h, tt.ref)
			} else {
				msg = l.StartActorFails(h, tt.ref)
			}
			require.Contains(t, msg, tt.ref, "the error names the reference")
			require.Contains(t, msg, tt.want)
		})
	}

	// The host keeps serving.
	hosts, err := l.Ctl.GetHosts(context.Background())
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	require.Equal(t, echo.ID, l.StartActor(h, actorRef, 1))
}

func TestOCIAuthentication(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	good := lattice.RegistryCredentialMap{reg.Addr: {Username: "alice", Password: "s3cret"}}
	echo := ociEcho(t)
	ref := reg.Addr + "/private/echo:1.0.0"
	pushTo(t, reg, ref, echo.Path, good)

	t.Run("anonymous pull refused", func(t *testing.T) {
		l := hosttest.New(t)
		h := l.StartHost(insecure(reg))
		msg := l.StartActorFails(h, ref)
		require.Contains(t, msg, "pull "+ref+": unauthorized: anonymous pull refused; set registry credentials with registries.put or OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD")
	})
	t.Run("configured credentials", func(t *testing.T) {
		l := hosttest.New(t)
		h := l.StartHost(insecure(reg), func(c *host.Config) { c.RegistryCredentials = good })
		require.Equal(t, echo.ID, l.StartActor(h, ref, 1))
	})
	t.Run("wrong configured credentials", func(t *testing.T) {
		l := hosttest.New(t)
		h := l.StartHost(insecure(reg), func(c *host.Config) {
			c.RegistryCredentials = lattice.RegistryCredentialMap{reg.Addr: {Username: "alice", Password: "wrong"}}
		})
		msg := l.StartActorFails(h, ref)
		require.Contains(t, msg, "pull "+ref+": unauthorized: registry "+reg.Addr+" refused the credentials from the host's configured credentials")
	})
	t.Run("docker config", func(t *testing.T) {
		l := hosttest.New(t)
		cfg := filepath.Join(t.TempDir(), "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
		require.NoError(t, os.WriteFile(cfg, []byte(`{"auths":{"`+reg.Addr+`":{"auth":"`+auth+`"}}}`), 0o600))
		h := l.StartHost(insecure(reg), func(c *host.Config) { c.DockerConfig = cfg })
		require.Equal(t, echo.ID, l.StartActor(h, ref, 1))
	})
	t.Run("registries.put", func(t *testing.T) {
		l := hosttest.New(t)
		h := l.StartHost(insecure(reg), func(c *host.Config) {
			c.RegistryCredentials = lattice.RegistryCredentialMap{reg.Addr: {Username: "alice", Password: "wrong"}}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A request gets an ack (wasmCloud clients only publish; so does Ctl.PutRegistries).
		bad, err := json.Marshal(lattice.RegistryCredentialMap{"http://" + reg.Addr + "/": {Username: "alice", Password: "nope"}})
		require.NoError(t, err)
		msg, err := l.NC.RequestWithContext(ctx, l.Ctl.Subjects().RegistriesPut(), bad)
		require.NoError(t, err)
		require.JSONEq(t, `{"accepted":true,"error":""}`, string(msg.Data))
		require.Contains(t, l.StartActorFails(h, ref), "refused the credentials from registries.put")

		require.NoError(t, l.Ctl.PutRegistries(ctx, lattice.RegistryCredentialMap{reg.Addr: {RegistryType: "oci", Username: "alice", Password: "s3cret"}}))
		require.Eventually(t, func() bool {
			w, err := l.Ctl.NewWaiter(func(e lattice.CloudEvent) bool {
				var d struct {
					ImageRef string `json:"image_ref"`
					ActorRef string `json:"actor_ref"`
				}
				return e.Source == h.ID() && e.DecodeData(&d) == nil && (e.Name() == lattice.EventActorStarted && d.ImageRef == ref ||
					e.Name() == lattice.EventActorStartFailed && d.ActorRef == ref)
			})
			require.NoError(t, err)
			defer w.Stop()
			require.NoError(t, l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID()}))
			e, err := w.Wait(ctx)
			require.NoError(t, err)
			return e.Name() == lattice.EventActorStarted
		}, 10*time.Second, 50*time.Millisecond, "registries.put credentials never used")
	})
}

func TestOCIPullDoesNotBlockTheControlPlane(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	l := hosttest.New(t)
	h := l.StartHost(insecure(reg))
	ref := reg.Addr + "/echo:slow"
	echo := ociEcho(t)
	pushTo(t, reg, ref, echo.Path, nil)
	reg.SetBlobDelay(3 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := l.Ctl.NewWaiter(func(e lattice.CloudEvent) bool {
		return e.Source == h.ID() && (e.Name() == lattice.EventActorStarted || e.Name() == lattice.EventActorStartFailed)
	})
	require.NoError(t, err)
	defer w.Stop()
	start := time.Now()
	require.NoError(t, l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID()}))
	require.Less(t, time.Since(start), 2*time.Second, "the command was not acked at once")
	// While the layer is on its way, the host answers.
	inv, err := l.Ctl.GetInventory(ctx, h.ID())
	require.NoError(t, err)
	require.Empty(t, inv.Actors)
	hosts, err := l.Ctl.GetHosts(ctx)
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	require.Less(t, time.Since(start), 2500*time.Millisecond, "the control plane waited for the pull")

	e, err := w.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, lattice.EventActorStarted, e.Name(), string(e.Data))
	require.GreaterOrEqual(t, time.Since(start), 3*time.Second)
}

// TestOCILayerOverTheHostsLimit: a layer one byte over the host's MaxArtifactSize is refused
// before it is downloaded, the error names the flag, and the host keeps serving.
func TestOCILayerOverTheHostsLimit(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	echo := ociEcho(t)
	ref := reg.Addr + "/echo:limit"
	pushed := pushTo(t, reg, ref, echo.Path, nil)
	l := hosttest.New(t)
	h := l.StartHost(insecure(reg), func(c *host.Config) { c.MaxArtifactSize = pushed.Size - 1 })
	msg := l.StartActorFails(h, ref)
	require.Contains(t, msg, fmt.Sprintf("pull %s: layer %s of %d bytes: over the limit of %d bytes (--max-artifact-size)", ref, pushed.LayerDigest, pushed.Size, pushed.Size-1))
	require.Zero(t, reg.BlobGets(pushed.LayerDigest))
	hosts, err := l.Ctl.GetHosts(context.Background())
	require.NoError(t, err)
	require.Len(t, hosts, 1)
}
