package applier

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

const (
	actorA = "MBCFOPM6JW2APJLXJD3Z5O4CN7CPYJ2B4FTKLJUR5YR5MITIU7HD3WD5"
	actorB = "MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW"
	actorC = "MCWEIJSXTSWKUTPF6FTZSTHGXTCLXZBNNLQ2FXXSQ72TBHQFOUUC7ASB"
	provA  = "VAG3QITQQ2ODAOWB5TTQSDJ53XK3SHBEIFNK4AYJ5RKAX2UNSCAPHA5M"
	provB  = "VBKTSBG2WKP6RJWLQ5O7RDVIIB4LMW6U5R67A7QMIDBZDGZWYTUE3TSI"
)

var managed = map[string]string{LabelManagedBy: ManagedBy, LabelLattice: "default"}

func link(actor, provider, contract, name string, values map[string]string) lattice.LinkDefinition {
	l := lattice.LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: contract, LinkName: name, Values: values}
	l.Normalize()
	return l
}

func TestPlanServices(t *testing.T) {
	p := planServices([]lattice.LinkDefinition{
		link(actorA, provB, httpserver.ContractID, "zeta", map[string]string{"address": "0.0.0.0:1"}),
		link(actorA, provA, httpserver.ContractID, "default", map[string]string{"address": "0.0.0.0:2"}),
		link(actorA, provA, "wasmcloud:keyvalue", "default", map[string]string{"address": "0.0.0.0:3"}),
		link(actorB, provB, httpserver.ContractID, "beta", map[string]string{"port": "x"}),
		link(actorB, provA, httpserver.ContractID, "alpha", map[string]string{"address": "[::]:8080"}),
		link(actorB, provA, httpserver.ContractID, "aardvark", map[string]string{"port": "8080"}),
		link(actorC, provA, httpserver.ContractID, "default", nil),
	}, managed)

	require.Len(t, p.want, 2)
	a := p.want[ServiceName(actorA)]
	require.Equal(t, int32(2), a.port, "the default link name wins")
	require.Equal(t, map[string]string{
		LabelManagedBy: ManagedBy, LabelLattice: "default", LabelActorID: actorA, LabelContract: "httpserver",
		LabelLinkName: "default", LabelProviderID: provA,
	}, a.labels)
	b := p.want[ServiceName(actorB)]
	require.Equal(t, int32(8080), b.port, "else the first link name with a reachable listener: alpha")
	require.Equal(t, "alpha", b.labels[LabelLinkName])
	require.Empty(t, p.hold)
	require.Len(t, p.refused[ServiceName(actorB)], 1, "aardvark binds 127.0.0.1:8080")
	require.ErrorIs(t, p.refused[ServiceName(actorB)][0], httpserver.ErrUnreachable)
	require.ErrorContains(t, p.refused[ServiceName(actorB)][0], "link name aardvark")
	require.ErrorContains(t, p.refused[ServiceName(actorC)][0], "127.0.0.1:8000 is a loopback address", "no address: the default bind")
	require.NotContains(t, p.want, ServiceName(actorC))

	p = planServices([]lattice.LinkDefinition{link(actorB, provB, httpserver.ContractID, "default", map[string]string{"port": "x"})}, managed)
	require.Empty(t, p.want)
	require.ErrorIs(t, p.hold[ServiceName(actorB)], httpserver.ErrLinkValues)
}

func TestLabelValue(t *testing.T) {
	require.Equal(t, "default", labelValue("default"))
	require.Equal(t, actorA, labelValue(actorA))
	for _, bad := range []string{"has space", "-leading", strings.Repeat("a", 64), "a:b"} {
		v := labelValue(bad)
		require.Empty(t, validation.IsValidLabelValue(v), "%q → %q", bad, v)
		require.Equal(t, v, labelValue(bad), "stable")
		require.True(t, strings.HasPrefix(v, "sha256-"))
	}
	require.Equal(t, "httpserver", contractLabel("wasmcloud:httpserver"))
	require.Equal(t, "messaging", contractLabel("wasmcloud:messaging"))
}

func TestServiceMatchesAndMutate(t *testing.T) {
	p := planServices([]lattice.LinkDefinition{link(actorA, provA, httpserver.ContractID, "default", map[string]string{"address": "0.0.0.0:8080"})}, managed)
	d := p.want[ServiceName(actorA)]
	sel := DefaultSelector()
	owner := &metav1.OwnerReference{APIVersion: "v1", Kind: "ServiceAccount", Name: "trellis-applier", UID: "0b5e1c2d-uid"}
	svc := d.object("apps", sel, owner)
	require.Equal(t, []metav1.OwnerReference{*owner}, svc.OwnerReferences)
	require.True(t, d.matches(svc, sel, owner))
	require.True(t, d.matches(svc, sel, nil), "no owner wanted: any owners are fine")

	svc.Labels["extra"] = "kept"
	svc.Annotations = map[string]string{"note": "kept"}
	require.True(t, d.matches(svc, sel, owner), "other labels are fine")

	for name, edit := range map[string]func(*corev1.Service){
		"label changed":      func(s *corev1.Service) { s.Labels[LabelProviderID] = provB },
		"selector extended":  func(s *corev1.Service) { s.Spec.Selector["x"] = "y" },
		"port changed":       func(s *corev1.Service) { s.Spec.Ports[0].Port = 1 },
		"target port named":  func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") },
		"udp":                func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolUDP },
		"a second port":      func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 9}) },
		"no ports":           func(s *corev1.Service) { s.Spec.Ports = nil },
		"selector different": func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} },
		"owner missing": func(s *corev1.Service) {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "Other", Name: "o", UID: "other"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := svc.DeepCopy()
			s.Spec.ClusterIP = "10.96.0.7"
			s.Spec.Ports[0].NodePort = 30001
			edit(s)
			require.False(t, d.matches(s, sel, owner))
			d.mutate(s, sel, owner)
			require.True(t, d.matches(s, sel, owner))
			require.Len(t, s.OwnerReferences, map[bool]int{true: 2, false: 1}[name == "owner missing"], "other owners are kept")
			require.Equal(t, "kept", s.Labels["extra"])
			require.Equal(t, "kept", s.Annotations["note"])
			require.Equal(t, "10.96.0.7", s.Spec.ClusterIP)
		})
	}
}

func TestTokenServiceAccount(t *testing.T) {
	jwt := func(claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		name, token, ns, sa, uid string
	}{
		{"bound token", jwt(`{"kubernetes.io":{"namespace":"apps","serviceaccount":{"name":"demo-trellis","uid":"u-1"}}}`), "apps", "demo-trellis", "u-1"},
		{"legacy secret token", jwt(`{"kubernetes.io/serviceaccount/namespace":"apps","kubernetes.io/serviceaccount/service-account.name":"old","kubernetes.io/serviceaccount/service-account.uid":"u-2"}`), "apps", "old", "u-2"},
		{"a user's token", jwt(`{"sub":"jane"}`), "", "", ""},
		{"not a JWT", "static-token", "", "", ""},
		{"bad base64", "a.%%%.c", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, sa, uid := tokenServiceAccount(tc.token)
			require.Equal(t, []string{tc.ns, tc.sa, tc.uid}, []string{ns, sa, uid})
		})
	}
	bound := jwt(`{"kubernetes.io":{"namespace":"apps","serviceaccount":{"name":"demo-trellis","uid":"u-1"}}}`)
	require.NotNil(t, serviceAccountOwner(&rest.Config{BearerToken: bound}, "apps"))
	require.Nil(t, serviceAccountOwner(&rest.Config{BearerToken: bound}, "other"), "an owner must be in the Service's namespace")
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(bound+"\n"), 0o600))
	require.Equal(t, "demo-trellis", serviceAccountOwner(&rest.Config{BearerTokenFile: file}, "apps").Name)
}
