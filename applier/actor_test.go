package applier_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestLattice runs the provider binary on a real host, as a user would: started with
// `ctl start provider --config`, an actor linked to it applying and deleting objects through the
// contract, and `ctl link put … wasmcloud:httpserver ADDRESS=0.0.0.0:8080` making a Service.
func TestLattice(t *testing.T) {
	c := newCluster(t)
	l := hosttest.New(t)
	h := l.StartHost()

	par := providerArchive(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := l.Ctl.NewWaiter(func(ev lattice.CloudEvent) bool {
		var d map[string]any
		_ = json.Unmarshal(ev.Data, &d)
		return d["public_key"] == par.ID && (ev.Name() == lattice.EventProviderStarted || ev.Name() == lattice.EventProviderStartFailed)
	})
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{
		ProviderRef: par.Path, LinkName: lattice.DefaultLinkName, HostID: h.ID(), Configuration: c.config(nil),
	}))
	ev, err := w.Wait(ctx)
	require.NoError(t, err, "waiting for the provider to start")
	require.Equal(t, lattice.EventProviderStarted, ev.Name(), "%s", ev.Data)

	act := latticetest.SignedActor(t, "./applier/testdata/kubeactor", lattice.ActorMetadata{
		Name: "kubeactor", Caps: []string{contract.ContractID, httpserver.ContractID},
	}, lattice.SignOptions{})
	l.StartActor(h, act.Path, 1)
	l.PutLink(lattice.LinkDefinition{ActorID: act.ID, ProviderID: par.ID, ContractID: contract.ContractID})

	call := func(op string, msg []byte) (contract.OperationResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		reply, err := l.Ctl.Call(ctx, act.ID, op, msg)
		if err != nil {
			return contract.OperationResponse{}, err
		}
		return contract.DecodeOperationResponse(reply)
	}
	apply := func(manifest string) contract.OperationResponse {
		t.Helper()
		var resp contract.OperationResponse
		require.Eventually(t, func() bool { // until the provider has the link the host pushed
			var err error
			resp, err = call("Kube.Apply", []byte(manifest))
			return err == nil
		}, 15*time.Second, 20*time.Millisecond)
		return resp
	}
	del := func(req contract.DeleteRequest) contract.OperationResponse {
		t.Helper()
		msg, err := json.Marshal(req)
		require.NoError(t, err)
		resp, err := call("Kube.Delete", msg)
		require.NoError(t, err)
		return resp
	}

	t.Run("apply creates, applies again, and delete removes", func(t *testing.T) {
		resp := apply("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  selector: {app: web}\n  ports:\n  - port: 80\n")
		require.True(t, resp.Succeeded, resp.Error)
		svc := c.service(t, "web")
		require.NotNil(t, svc, "applied in the link's namespace, the provider's")
		require.Equal(t, int32(80), svc.Spec.Ports[0].Port)
		require.Equal(t, "web", svc.Labels["app"])

		resp = apply(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"apps"},"spec":{"selector":{"app":"web"},"ports":[{"port":81}]}}`)
		require.True(t, resp.Succeeded, resp.Error)
		again := c.service(t, "web")
		require.Equal(t, svc.UID, again.UID)
		require.Equal(t, int32(81), again.Spec.Ports[0].Port)

		resp = del(contract.DeleteRequest{Version: "v1", Kind: "Service", Name: "web"})
		require.True(t, resp.Succeeded, resp.Error)
		require.Nil(t, c.service(t, "web"))
		resp = del(contract.DeleteRequest{Version: "v1", Kind: "Service", Name: "web"})
		require.True(t, resp.Succeeded, "deleting what is gone succeeds: %s", resp.Error)
	})

	t.Run("bad manifests and refusals get a clear error", func(t *testing.T) {
		for manifest, want := range map[string]string{
			"kind: [":                              "bad manifest: not a YAML or JSON object",
			"- just\n- a list\n":                   "bad manifest: not a YAML or JSON object",
			"":                                     "bad manifest: no object in it",
			"apiVersion: v1\nkind: Service\n":      "bad manifest: Service has no metadata.name",
			"kind: Service\nmetadata: {name: x}\n": "bad manifest: apiVersion is missing or not a string",
			"apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n":                                                             "apply Nope x: the API server serves no kind Nope in v1",
			"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n": "bad manifest: 2 objects in it; Apply takes one",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n":                                                       `apply ConfigMap apps/cm: configmaps "cm" is forbidden: User "system:serviceaccount:apps:trellis-applier" cannot patch resource "configmaps"`,
			"apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {ports: [{port: 80}]}\n":                      `apply Service apps/Bad_Name: Service "Bad_Name" is invalid`,
		} {
			resp := apply(manifest)
			require.False(t, resp.Succeeded, "manifest %q", manifest)
			require.Contains(t, resp.Error, want, "manifest %q", manifest)
		}
		resp := del(contract.DeleteRequest{Version: "v1", Name: "x"})
		require.False(t, resp.Succeeded)
		require.Contains(t, resp.Error, "bad delete request: kind is empty")

		_, err := call("Kube.Raw", []byte{0xc3})
		require.ErrorContains(t, err, contract.OpApply+": decode manifest")
	})

	t.Run("a link's own kubeconfig and namespace", func(t *testing.T) {
		admin := base64.StdEncoding.EncodeToString(c.kube.Kubeconfig(c.kube.AdminToken, ""))
		l.PutLink(lattice.LinkDefinition{ActorID: act.ID, ProviderID: par.ID, ContractID: contract.ContractID,
			Values: map[string]string{"config_b64": admin, "namespace": c.other}})
		require.Eventually(t, func() bool {
			resp, err := call("Kube.Apply", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"))
			return err == nil && resp.Succeeded
		}, 15*time.Second, 20*time.Millisecond)
		cm, err := c.admin.ConfigMaps(c.other).Get(context.Background(), "cm", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, "b", cm.Data["a"])
	})

	t.Run("ctl link put of an httpserver link makes the Service, link del removes it", func(t *testing.T) {
		httpProvider := latticetest.Key(t, lattice.PrefixService).PublicKey()
		l.PutLink(lattice.LinkDefinition{ActorID: act.ID, ProviderID: httpProvider, ContractID: httpserver.ContractID,
			Values: map[string]string{"ADDRESS": "0.0.0.0:8080"}})
		c.waitPorts(t, lattice.DefaultLattice, map[string]int32{applier.ServiceName(act.ID): 8080})

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, l.Ctl.DeleteLink(ctx, act.ID, httpserver.ContractID, ""))
		c.waitPorts(t, lattice.DefaultLattice, map[string]int32{})
	})
}

// providerArchive builds cmd/provider-applier (stripped) and signs it into a plain-tar provider
// archive, which hosts accept as well as a gzip'd one. latticetest.ProviderArchive compresses at
// the best level, and compressing this client-go binary under the race detector takes minutes.
func providerArchive(t *testing.T) latticetest.Provider {
	t.Helper()
	out := filepath.Join(t.TempDir(), "provider-applier")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/provider-applier")
	cmd.Dir = latticetest.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", msg)
	bin, err := os.ReadFile(out)
	require.NoError(t, err)

	target := lattice.TargetName(runtime.GOOS, runtime.GOARCH)
	sum := sha256.Sum256(bin)
	account := latticetest.Key(t, lattice.PrefixAccount)
	service := latticetest.Key(t, lattice.PrefixService)
	claims := &lattice.ProviderClaims{
		Claims: lattice.Claims{Subject: service.PublicKey()},
		Provider: lattice.ProviderMetadata{
			Name: "kubernetes applier", CapID: contract.ContractID, Vendor: "trellis",
			TargetHashes: map[string]string{target: strings.ToUpper(hex.EncodeToString(sum[:]))},
		},
	}
	token, err := lattice.SignJWT(claims, account)
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "provider-applier.par")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		mode int64
		data []byte
	}{{"claims.jwt", 0o644, []byte(token)}, {target + ".bin", 0o755, bin}} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return latticetest.Provider{Path: path, ID: service.PublicKey(), Claims: claims}
}
