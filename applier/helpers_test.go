package applier_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// cluster is a real API server with the applier's namespace and restricted identity set up.
type cluster struct {
	kube *latticetest.Kube
	// ns is the applier's namespace; other is one it has no rights in.
	ns, other string
	// admin is a core client with system:masters rights; dyn a dynamic one.
	admin corev1client.CoreV1Interface
	dyn   dynamic.Interface
	// token is the ServiceAccount token of the identity docs/applier.md describes.
	token string
}

const (
	testNamespace  = "apps"
	otherNamespace = "other"
	serviceAccount = "trellis-applier"
)

// newCluster starts etcd and kube-apiserver, creates the namespaces and the documented
// ServiceAccount, Role and RoleBinding, and gets a token of that ServiceAccount.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	k := latticetest.RunKube(t)
	cfg := &rest.Config{Host: k.URL, BearerToken: k.AdminToken, TLSClientConfig: rest.TLSClientConfig{CAData: k.CA}, QPS: 100, Burst: 200}
	admin, err := corev1client.NewForConfig(cfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	c := &cluster{kube: k, ns: testNamespace, other: otherNamespace, admin: admin, dyn: dyn}

	ctx := context.Background()
	for _, ns := range []string{c.ns, c.other} {
		_, err := admin.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, obj := range documentedRBAC(t, c.ns) {
		gvr := map[string]schema.GroupVersionResource{
			"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
			"Role":           {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
			"RoleBinding":    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		}[obj.GetKind()]
		require.NotEmpty(t, gvr.Resource, "docs/applier.md RBAC holds a %s", obj.GetKind())
		_, err := dyn.Resource(gvr).Namespace(c.ns).Create(ctx, obj, metav1.CreateOptions{})
		require.NoError(t, err, "create %s", obj.GetKind())
	}
	expiry := int64(3600)
	tr, err := admin.ServiceAccounts(c.ns).CreateToken(ctx, serviceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	require.NoError(t, err)
	c.token = tr.Status.Token
	return c
}

// documentedRBAC reads the ServiceAccount, Role and RoleBinding of docs/applier.md, moved to ns.
func documentedRBAC(t testing.TB, ns string) []*unstructured.Unstructured {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(latticetest.ModuleRoot(t), "docs", "applier.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- applier-rbac:[^>]*-->\n```yaml\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/applier.md has no applier-rbac YAML block")
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(m[1]), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: obj}
		u.SetNamespace(ns)
		if u.GetKind() == "RoleBinding" {
			subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
			for _, s := range subjects {
				s.(map[string]any)["namespace"] = ns
			}
			require.NoError(t, unstructured.SetNestedSlice(u.Object, subjects, "subjects"))
		}
		out = append(out, u)
	}
	require.Len(t, out, 3)
	return out
}

// kubeconfig is the restricted identity's kubeconfig, with the applier's namespace as context.
func (c *cluster) kubeconfig() []byte { return c.kube.Kubeconfig(c.token, c.ns) }

// config is the provider configuration string that runs the applier as the restricted identity.
func (c *cluster) config(extra map[string]any) string {
	m := map[string]any{"config_b64": base64.StdEncoding.EncodeToString(c.kubeconfig())}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// services returns the Services of a lattice's applier, by name.
func (c *cluster) services(t testing.TB, latticeName string) map[string]corev1.Service {
	t.Helper()
	list, err := c.admin.Services(c.ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: applier.LabelManagedBy + "=" + applier.ManagedBy + "," + applier.LabelLattice + "=" + latticeName,
	})
	require.NoError(t, err)
	out := map[string]corev1.Service{}
	for _, s := range list.Items {
		out[s.Name] = s
	}
	return out
}

// service returns a Service, or nil when it does not exist.
func (c *cluster) service(t testing.TB, name string) *corev1.Service {
	t.Helper()
	svc, err := c.admin.Services(c.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		require.Contains(t, err.Error(), "not found")
		return nil
	}
	return svc
}

// lat is a lattice without hosts: a NATS server with JetStream, the lattice's store (written as a
// ctl client would) and the applier run in-process with providers.Run.
type lat struct {
	name    string
	ns      *server.Server
	nc      *nats.Conn
	store   *lattice.Store
	cluster *lattice.KeyPair
	seed    string
	hd      lattice.HostData
}

func newLattice(t testing.TB) *lat {
	t.Helper()
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	name := "t" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	store, err := lattice.OpenStore(context.Background(), latticetest.JetStream(t, nc), name, 1)
	require.NoError(t, err)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	l := &lat{name: name, ns: ns, nc: nc, store: store, cluster: cluster, seed: seed}
	l.hd = lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    name,
		LinkName:            lattice.DefaultLinkName,
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		InstanceID:          uuid.NewString(),
		ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
		DefaultRPCTimeoutMS: 5000,
		ClusterIssuers:      []string{cluster.PublicKey()},
		InvocationSeed:      seed,
	}
	return l
}

// running is one providers.Run of the applier.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// start runs the applier with the configuration string config until stop or the test's end.
func (l *lat) start(t testing.TB, config string) *running {
	t.Helper()
	hd := l.hd
	hd.ConfigJSON = config
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- providers.Run(ctx, hd, applier.New(applier.DefaultConfig()), applier.ProviderConfig())
	}()
	t.Cleanup(func() { r.stop(t) })
	require.Eventually(t, func() bool {
		select {
		case err := <-r.done:
			r.done <- err
			require.NoError(t, err, "the applier stopped")
		default:
		}
		_, err := l.nc.Request(lattice.NewSubjects(l.name).ProviderHealth(hd.ProviderKey, hd.LinkName), nil, time.Second)
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "the applier does not answer health checks")
	return r
}

// stop ends the run and waits for it; it is idempotent.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err)
			close(r.done)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the applier did not stop within 20s")
	}
}

// health asks the running applier for its health.
func (l *lat) health(t testing.TB) lattice.HealthReply {
	t.Helper()
	msg, err := l.nc.Request(lattice.NewSubjects(l.name).ProviderHealth(l.hd.ProviderKey, l.hd.LinkName), nil, 5*time.Second)
	require.NoError(t, err)
	var h lattice.HealthReply
	require.NoError(t, lattice.Unmarshal(msg.Data, &h))
	return h
}

// httpLink is a wasmcloud:httpserver link of a fresh actor to a made-up provider.
func httpLink(t testing.TB, values map[string]string) lattice.LinkDefinition {
	t.Helper()
	return lattice.LinkDefinition{
		ActorID:    latticetest.Key(t, lattice.PrefixModule).PublicKey(),
		ProviderID: latticetest.Key(t, lattice.PrefixService).PublicKey(),
		LinkName:   lattice.DefaultLinkName,
		ContractID: httpserver.ContractID,
		Values:     values,
	}
}

func (l *lat) put(t testing.TB, link lattice.LinkDefinition) {
	t.Helper()
	require.NoError(t, l.store.PutLink(context.Background(), link))
}

func (l *lat) del(t testing.TB, link lattice.LinkDefinition) {
	t.Helper()
	_, err := l.store.DeleteLink(context.Background(), link.ActorID, link.ContractID, link.LinkName)
	require.NoError(t, err)
}
