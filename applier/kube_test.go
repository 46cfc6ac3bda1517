package applier_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

const converge = 15 * time.Second

// TestKubernetes runs the applier against one real API server (etcd + kube-apiserver), always as
// the restricted ServiceAccount of docs/applier.md. Each subtest has its own lattice, so its
// Services carry their own lattice label.
func TestKubernetes(t *testing.T) {
	c := newCluster(t)

	t.Run("the applier's identity may only touch Services in its namespace", func(t *testing.T) {
		rc, err := clientcmd.RESTConfigFromKubeConfig(c.kubeconfig())
		require.NoError(t, err)
		core, err := corev1client.NewForConfig(rc)
		require.NoError(t, err)
		ctx := context.Background()
		_, err = core.Services(c.ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		_, err = core.Services(c.other).List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "Services in %s: %v", c.other, err)
		_, err = core.ConfigMaps(c.ns).List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "ConfigMaps in %s: %v", c.ns, err)
		_, err = core.Pods(c.ns).List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "Pods in %s: %v", c.ns, err)
	})

	t.Run("links put, changed and deleted make, update and remove Services", func(t *testing.T) {
		l := newLattice(t)
		l.start(t, c.config(nil))

		byAddress := httpLink(t, map[string]string{"ADDRESS": "0.0.0.0:8080"})
		overridden := httpLink(t, map[string]string{"address": "0.0.0.0:9000", "config_json": `{"address":"0.0.0.0:7000"}`})
		byConfig := httpLink(t, map[string]string{"config_json": `{"address":"0.0.0.0:8123"}`})
		// Listeners no Service can reach: the default bind (127.0.0.1:8000) and a port value
		// (127.0.0.1:PORT) are refused, with the link named.
		bare := httpLink(t, nil)
		byPort := httpLink(t, map[string]string{"port": "9999"})
		other := httpLink(t, map[string]string{"address": "0.0.0.0:9999"})
		other.ContractID = "wasmcloud:keyvalue"
		for _, link := range []lattice.LinkDefinition{byAddress, overridden, bare, byPort, byConfig, other} {
			l.put(t, link)
		}
		want := map[string]int32{
			applier.ServiceName(byAddress.ActorID):  8080,
			applier.ServiceName(overridden.ActorID): 9000,
			applier.ServiceName(byConfig.ActorID):   8123,
		}
		c.waitPorts(t, l.name, want)
		require.Eventually(t, func() bool {
			h := l.health(t)
			return h.Healthy && strings.Contains(h.Message, "link "+lattice.LinkID(bare.ActorID, bare.ContractID, bare.LinkName)+" ") && strings.Contains(h.Message, "127.0.0.1:8000 is a loopback address") &&
				strings.Contains(h.Message, "link "+lattice.LinkID(byPort.ActorID, byPort.ContractID, byPort.LinkName)+" ") && strings.Contains(h.Message, "127.0.0.1:9999 is a loopback address")
		}, converge, 20*time.Millisecond)
		svc := c.service(t, applier.ServiceName(byAddress.ActorID))
		require.Equal(t, strings.ToLower(byAddress.ActorID), svc.Name)
		require.Len(t, svc.Name, 56)
		require.Equal(t, map[string]string{
			"app.kubernetes.io/managed-by": "trellis",
			"wasmcloud.dev/lattice":        l.name,
			"wasmcloud.dev/actor-id":       byAddress.ActorID,
			"wasmcloud.dev/contract":       "httpserver",
			"wasmcloud.dev/link-name":      "default",
			"wasmcloud.dev/provider-id":    byAddress.ProviderID,
		}, svc.Labels)
		require.Equal(t, map[string]string{"wasmcloud.dev/route-to": "true"}, svc.Spec.Selector)
		require.Equal(t, corev1.ServiceTypeClusterIP, svc.Spec.Type)
		require.NotEmpty(t, svc.Spec.ClusterIP)
		require.Len(t, svc.Spec.Ports, 1)
		require.Equal(t, corev1.ProtocolTCP, svc.Spec.Ports[0].Protocol)
		require.Equal(t, int32(8080), svc.Spec.Ports[0].Port)
		require.Equal(t, intstr.FromInt32(8080), svc.Spec.Ports[0].TargetPort)
		// Owned by the applier's ServiceAccount, so deleting it (helm uninstall) takes the Service.
		sa, err := c.admin.ServiceAccounts(c.ns).Get(context.Background(), serviceAccount, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, []metav1.OwnerReference{{APIVersion: "v1", Kind: "ServiceAccount", Name: serviceAccount, UID: sa.UID}}, svc.OwnerReferences)

		// A changed port updates the Service in place.
		byAddress.Values = map[string]string{"ADDRESS": "0.0.0.0:8081"}
		l.put(t, byAddress)
		want[applier.ServiceName(byAddress.ActorID)] = 8081
		c.waitPorts(t, l.name, want)
		updated := c.service(t, applier.ServiceName(byAddress.ActorID))
		require.Equal(t, svc.UID, updated.UID, "updated, not replaced")
		require.Equal(t, svc.Spec.ClusterIP, updated.Spec.ClusterIP)

		// A deleted link takes its Service with it.
		l.del(t, byAddress)
		delete(want, applier.ServiceName(byAddress.ActorID))
		c.waitPorts(t, l.name, want)

		// A Service deleted by hand comes back: the applier watches its Services too.
		name := applier.ServiceName(byConfig.ActorID)
		require.NoError(t, c.admin.Services(c.ns).Delete(context.Background(), name, metav1.DeleteOptions{}))
		require.Eventually(t, func() bool { return c.service(t, name) != nil }, converge, 10*time.Millisecond)

		// A port changed by hand is put back.
		edited := c.service(t, name)
		edited.Spec.Ports[0].Port = 1234
		_, err = c.admin.Services(c.ns).Update(context.Background(), edited, metav1.UpdateOptions{})
		require.NoError(t, err)
		c.waitPorts(t, l.name, want)

		// A link whose port becomes unusable leaves its Service as it was and says why.
		overridden.Values = map[string]string{"port": "http"}
		l.put(t, overridden)
		require.Eventually(t, func() bool {
			return strings.Contains(l.health(t).Message, `port "http": want a number from 0 to 65535`)
		}, converge, 20*time.Millisecond)
		c.waitPorts(t, l.name, want)
		require.True(t, l.health(t).Healthy)

		// A link moved to a loopback listener loses its Service: none could reach it.
		overridden.Values = map[string]string{"address": "127.0.0.1:9000"}
		l.put(t, overridden)
		delete(want, applier.ServiceName(overridden.ActorID))
		c.waitPorts(t, l.name, want)
		// Fixing the refused links gives them Services.
		bare.Values = map[string]string{"address": "0.0.0.0:8000"}
		l.put(t, bare)
		want[applier.ServiceName(bare.ActorID)] = 8000
		c.waitPorts(t, l.name, want)
	})

	t.Run("a restart converges and never touches Services it does not manage", func(t *testing.T) {
		l := newLattice(t)
		run := l.start(t, c.config(nil))
		gone := httpLink(t, map[string]string{"address": "0.0.0.0:8080"})
		changed := httpLink(t, map[string]string{"address": "0.0.0.0:8080"})
		l.put(t, gone)
		l.put(t, changed)
		c.waitPorts(t, l.name, map[string]int32{applier.ServiceName(gone.ActorID): 8080, applier.ServiceName(changed.ActorID): 8080})
		run.stop(t)

		// While it is down: one link goes, one changes, one comes, and Services it must leave alone
		// appear: one without labels, one in the way of a new link, one of another lattice.
		l.del(t, gone)
		changed.Values["address"] = "0.0.0.0:8088"
		l.put(t, changed)
		added := httpLink(t, map[string]string{"address": "[::]:9090"})
		l.put(t, added)
		blocked := httpLink(t, map[string]string{"address": "0.0.0.0:8080"})
		l.put(t, blocked)
		foreign := c.create(t, "foreign", nil, 80)
		inTheWay := c.create(t, applier.ServiceName(blocked.ActorID), map[string]string{"app": "mine"}, 80)
		otherLattice := c.create(t, "other-lattice", map[string]string{
			applier.LabelManagedBy: applier.ManagedBy, applier.LabelLattice: "someone-else",
		}, 80)

		l.start(t, c.config(nil))
		c.waitPorts(t, l.name, map[string]int32{applier.ServiceName(changed.ActorID): 8088, applier.ServiceName(added.ActorID): 9090})
		require.Eventually(t, func() bool {
			return strings.Contains(l.health(t).Message, "Service "+c.ns+"/"+inTheWay.Name+" exists and is not managed by this applier")
		}, converge, 20*time.Millisecond)
		for _, before := range []*corev1.Service{foreign, inTheWay, otherLattice} {
			after := c.service(t, before.Name)
			require.NotNil(t, after, "%s was deleted", before.Name)
			require.Equal(t, before.ResourceVersion, after.ResourceVersion, "%s was modified", before.Name)
		}

		// Once the Service in the way is gone, the link gets its own.
		require.NoError(t, c.admin.Services(c.ns).Delete(context.Background(), inTheWay.Name, metav1.DeleteOptions{}))
		c.waitPorts(t, l.name, map[string]int32{
			applier.ServiceName(changed.ActorID): 8088, applier.ServiceName(added.ActorID): 9090, applier.ServiceName(blocked.ActorID): 8080,
		})
		require.Eventually(t, func() bool { return l.health(t).Message == "" }, converge, 20*time.Millisecond)
	})

	t.Run("the periodic resync converges without any event", func(t *testing.T) {
		l := newLattice(t)
		link := httpLink(t, map[string]string{"address": "0.0.0.0:8080"})
		l.put(t, link)
		l.start(t, c.config(map[string]any{"resync": "1s", "selector": map[string]string{"tier": "hosts"}}))
		name := applier.ServiceName(link.ActorID)
		c.waitPorts(t, l.name, map[string]int32{name: 8080})
		require.Equal(t, map[string]string{"tier": "hosts"}, c.service(t, name).Spec.Selector)
	})

	t.Run("conformance", func(t *testing.T) {
		kubeconfig := c.kubeconfig()
		providertest.Run(t, providertest.Subject{
			New: func(*testing.T) providers.Provider {
				cfg := applier.DefaultConfig()
				cfg.Kubeconfig = kubeconfig
				return applier.New(cfg)
			},
			Config: applier.ProviderConfig(),
			Probe: func(t *testing.T, env providertest.Env) {
				name := "probe-" + strings.ToLower(env.ActorID[:12])
				manifest := fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  ports:\n  - port: 80\n", name)
				arg, err := contract.EncodeManifest([]byte(manifest))
				require.NoError(t, err)
				reply, err := env.Call(contract.OpApply, arg)
				requireSucceeded(t, reply, err)
				require.NotNil(t, c.service(t, name))
				arg, err = contract.DeleteRequest{Version: "v1", Kind: "Service", Name: name}.Encode()
				require.NoError(t, err)
				reply, err = env.Call(contract.OpDelete, arg)
				requireSucceeded(t, reply, err)
				require.Nil(t, c.service(t, name))
			},
		})
	})
}

// waitPorts waits until the lattice's Services are exactly want (name → port), each with one TCP
// port targeting the same port.
func (c *cluster) waitPorts(t testing.TB, latticeName string, want map[string]int32) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got := map[string]int32{}
		for name, svc := range c.services(t, latticeName) {
			got[name] = -1 // not one TCP port targeting itself
			if len(svc.Spec.Ports) == 1 && svc.Spec.Ports[0].Protocol == corev1.ProtocolTCP &&
				svc.Spec.Ports[0].TargetPort == intstr.FromInt32(svc.Spec.Ports[0].Port) {
				got[name] = svc.Spec.Ports[0].Port
			}
		}
		assert.Equal(ct, want, got, "Services of lattice %s", latticeName)
	}, converge, 10*time.Millisecond)
}

// create makes a Service the applier did not make.
func (c *cluster) create(t testing.TB, name string, labels map[string]string, port int32) *corev1.Service {
	t.Helper()
	svc, err := c.admin.Services(c.ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: port}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return svc
}

func requireSucceeded(t testing.TB, reply []byte, err error) {
	t.Helper()
	require.NoError(t, err)
	resp, err := contract.DecodeOperationResponse(reply)
	require.NoError(t, err)
	require.True(t, resp.Succeeded, "operation failed: %s", resp.Error)
}
