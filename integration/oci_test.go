package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// trellisCLI builds cmd/trellis once and returns a function running it with args; it returns
// the exit code, stdout and stderr.
func trellisCLI(t *testing.T) func(args ...string) (int, string, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trellis")
	require.NoError(t, os.WriteFile(bin, latticetest.BuildBinary(t, "./cmd/trellis"), 0o755))
	home := t.TempDir() // no keystore, no docker config of the user
	return func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out, errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+home, "OCI_REGISTRY=", "OCI_REGISTRY_USER=", "OCI_REGISTRY_PASSWORD=")
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run trellis %v: %v", args, err)
		}
		return code, out.String(), errOut.String()
	}
}

var sharedPAR struct {
	sync.Mutex
	data []byte
	p    latticetest.Provider
}

// ociHTTPProvider is httpProvider, made once for these tests: writing a provider archive takes
// over a minute under -race.
func ociHTTPProvider(t testing.TB) latticetest.Provider {
	t.Helper()
	sharedPAR.Lock()
	defer sharedPAR.Unlock()
	if sharedPAR.data == nil {
		p := httpProvider(t)
		data, err := os.ReadFile(p.Path)
		require.NoError(t, err)
		sharedPAR.data, sharedPAR.p = data, p
	}
	p := sharedPAR.p
	p.Path = filepath.Join(t.TempDir(), "httpserver.par.gz")
	require.NoError(t, os.WriteFile(p.Path, sharedPAR.data, 0o644))
	return p
}

// manifest reads a manifest from the registry as a client would.
func manifest(t *testing.T, reg *latticetest.Registry, repo, tag string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+reg.Addr+"/v2/"+repo+"/manifests/"+tag, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

func mediaTypes(m map[string]any) (config string, layers []string) {
	config, _ = m["config"].(map[string]any)["mediaType"].(string)
	for _, l := range m["layers"].([]any) {
		layers = append(layers, l.(map[string]any)["mediaType"].(string))
	}
	return config, layers
}

// TestOCIEchoEndToEnd is the seed workflow: push the echo actor and the httpserver provider with
// `trellis reg push`, start both by reference with `trellis ctl start` on a host that never saw
// them, link them, and curl gets the echo body.
func TestOCIEchoEndToEnd(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	trellis := trellisCLI(t)
	echo := echoActor(t)
	prov := ociHTTPProvider(t)
	actorRef := reg.Addr + "/echo:0.3.4"
	provRef := reg.Addr + "/httpserver:0.16.3"

	code, out, errOut := trellis("reg", "push", actorRef, echo.Path, "--insecure")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Pushed actor "+echo.ID)
	code, out, errOut = trellis("reg", "push", provRef, prov.Path, "--insecure", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var pushed struct{ Kind, Key, ManifestDigest string }
	require.NoError(t, json.Unmarshal([]byte(out), &pushed), out)
	require.Equal(t, "provider", pushed.Kind)
	require.Equal(t, prov.ID, pushed.Key)

	// The artifacts carry wasmCloud's media types exactly.
	config, layers := mediaTypes(manifest(t, reg, "echo", "0.3.4"))
	require.Equal(t, "application/vnd.wasmcloud.actor.archive.config", config)
	require.Equal(t, []string{"application/vnd.module.wasm.content.layer.v1+wasm"}, layers)
	m := manifest(t, reg, "httpserver", "0.16.3")
	require.Equal(t, "application/vnd.oci.image.manifest.v1+json", m["mediaType"])
	config, layers = mediaTypes(m)
	require.Equal(t, "application/vnd.wasmcloud.provider.archive.config", config)
	require.Equal(t, []string{"application/vnd.wasmcloud.provider.archive.layer.v1+par"}, layers)

	// `reg pull` gives back the same bytes.
	dest := filepath.Join(t.TempDir(), "echo.wasm")
	code, _, errOut = trellis("reg", "pull", actorRef, "--insecure", "-d", dest)
	require.Equal(t, 0, code, errOut)
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	require.Equal(t, echo.Module, got)

	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.AllowedInsecure = []string{reg.Addr}; c.AllowFileLoad = nil })
	nats := []string{"--nats-url", l.NS.ClientURL()}
	code, out, errOut = trellis(append([]string{"ctl", "start", "actor", actorRef, "--timeout", "3m"}, nats...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Actor "+echo.ID+" ("+actorRef+") started on host "+h.ID())
	require.Contains(t, errOut, "Pulling "+actorRef+": ", "the pull's progress is shown")
	code, out, errOut = trellis(append([]string{"ctl", "start", "provider", provRef, "--timeout", "3m"}, nats...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Provider "+prov.ID)

	port := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: echo.ID, ProviderID: prov.ID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
	status, body := waitHTTP(t, url(port, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)

	// Refmaps were announced; the inventory and the claims name the references.
	for ref, key := range map[string]string{actorRef: echo.ID, provRef: prov.ID} {
		l.Events.Wait(t, lattice.EventRefmapSet, func(d map[string]any) bool { return d["oci_url"] == ref && d["public_key"] == key })
	}
	code, out, errOut = trellis(append([]string{"ctl", "get", "inventory", h.ID()}, nats...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, actorRef)
	require.Contains(t, out, provRef)
	code, out, errOut = trellis(append([]string{"ctl", "get", "claims"}, nats...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, actorRef)
	require.Contains(t, out, provRef)
}

// TestOCIAuctionPlacesOnMatchingHosts: without --host-id, `ctl start` auctions the work, and
// --constraint keeps it to hosts with those labels.
func TestOCIAuctionPlacesOnMatchingHosts(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	trellis := trellisCLI(t)
	echo := echoActor(t)
	prov := ociHTTPProvider(t)
	actorRef, provRef := reg.Addr+"/echo:1.0.0", reg.Addr+"/httpserver:1.0.0"
	for ref, path := range map[string]string{actorRef: echo.Path, provRef: prov.Path} {
		code, _, errOut := trellis("reg", "push", ref, path, "--insecure")
		require.Equal(t, 0, code, errOut)
	}
	l := hosttest.New(t)
	opts := func(zone string) hosttest.Option {
		return func(c *host.Config) {
			c.AllowedInsecure = []string{reg.Addr}
			c.Labels = map[string]string{"zone": zone, "kind": "test"}
		}
	}
	a := l.StartHost(opts("a"))
	b := l.StartHost(opts("b"))
	nats := []string{"--nats-url", l.NS.ClientURL(), "--auction-timeout", "500ms"}
	start := func(args ...string) (int, string, string) {
		return trellis(append(append([]string{"ctl", "start"}, args...), nats...)...)
	}

	for range 3 {
		code, out, errOut := start("actor", actorRef, "--constraint", "zone=b", "-c", "kind=test", "--timeout", "3m")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "started on host "+b.ID())
	}
	code, out, errOut := start("provider", provRef, "--constraint", "zone=a", "--timeout", "3m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "started on host "+a.ID())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	invA, err := l.Ctl.GetInventory(ctx, a.ID())
	require.NoError(t, err)
	invB, err := l.Ctl.GetInventory(ctx, b.ID())
	require.NoError(t, err)
	require.Empty(t, invA.Actors)
	require.Len(t, invB.Actors, 1)
	require.Len(t, invB.Actors[0].Instances, 3)
	require.Len(t, invA.Providers, 1)
	require.Empty(t, invB.Providers)

	// Nobody matches: the error lists the hosts and their labels.
	code, _, errOut = start("actor", actorRef, "--constraint", "zone=c")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no host bid with labels zone=c")
	require.Contains(t, errOut, a.ID())
	require.Contains(t, errOut, b.ID())
	// A host already running the provider with that link name does not bid.
	code, _, errOut = start("provider", provRef, "--constraint", "zone=a")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "do not bid")
	code, _, errOut = start("actor", actorRef, "--constraint", "zone=b", "--host-id", a.ID())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "exclude each other")
}

// TestOCIStartWaitsWithATimeoutThatSaysWhy: --skip-wait returns at once; a pull slower than
// --timeout ends with a message naming what was awaited; the start still completes.
func TestOCIStartWaitsWithATimeoutThatSaysWhy(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	trellis := trellisCLI(t)
	echo := echoActor(t)
	ref := reg.Addr + "/echo:2.0.0"
	code, _, errOut := trellis("reg", "push", ref, echo.Path, "--insecure")
	require.Equal(t, 0, code, errOut)
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.AllowedInsecure = []string{reg.Addr} })
	reg.SetBlobDelay(4 * time.Second)

	code, out, errOut := trellis("ctl", "start", "actor", ref, "--nats-url", l.NS.ClientURL(), "--timeout", "1s")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "host "+h.ID()+" accepted the command but reported no outcome (actor_started or failure) for "+ref+" within 1s")
	require.Contains(t, errOut, "the host may still be pulling")
	l.Events.Wait(t, lattice.EventActorStarted, func(d map[string]any) bool { return d["image_ref"] == ref })

	begin := time.Now()
	code, out, errOut = trellis("ctl", "start", "actor", ref, "--nats-url", l.NS.ClientURL(), "--skip-wait", "--host-id", h.ID())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "not waiting")
	require.Less(t, time.Since(begin), 4*time.Second)

	// Bad references end in a clear error from the host.
	code, _, errOut = trellis("ctl", "start", "actor", reg.Addr+"/echo:latest", "--nats-url", l.NS.ClientURL())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "start actor "+reg.Addr+"/echo:latest on host "+h.ID()+" failed: pull "+reg.Addr+"/echo:latest: :latest is refused")
	require.True(t, strings.Count(errOut, "\n") <= 2, errOut)
}
