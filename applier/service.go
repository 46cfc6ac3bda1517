package applier

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// Labels of the Services the applier manages. LabelManagedBy=ManagedBy and LabelLattice=<lattice>
// together mark a Service as the applier's: only those are ever updated or deleted.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "trellis"
	LabelLattice    = "wasmcloud.dev/lattice"
	LabelActorID    = "wasmcloud.dev/actor-id"
	LabelContract   = "wasmcloud.dev/contract"
	LabelLinkName   = "wasmcloud.dev/link-name"
	LabelProviderID = "wasmcloud.dev/provider-id"
)

// portName is the name of the Service's one port.
const portName = "http"

// ServiceName is the name of an actor's Service: its public key lowercased (56 characters, a valid
// DNS-1123 label).
func ServiceName(actorID string) string { return strings.ToLower(actorID) }

// ServicePort returns the port of the Service an HTTP-server link calls for: the port of its
// listener, as the provider decides it (httpserver.ListenAddress, the same rule). An error
// wrapping httpserver.ErrLinkValues means the values are malformed (the provider refuses the link
// too); one wrapping httpserver.ErrUnreachable means the listener is valid but no Service can
// reach it (loopback, as a port value or no address at all binds, or port 0).
func ServicePort(l lattice.LinkDefinition) (int32, error) {
	addr, err := httpserver.ListenAddress(l.Values)
	if err != nil {
		return 0, err
	}
	if err := httpserver.ServiceReachable(addr); err != nil {
		return 0, err
	}
	return int32(addr.Port()), nil
}

// labelValue returns s when it is a valid label value, else a stable stand-in made from its hash.
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(h[:])[:32]
}

// contractLabel is the contract's label value: what follows its last ':' (':' is not allowed in
// label values), as upstream's service applier does: "httpserver".
func contractLabel(contractID string) string {
	if i := strings.LastIndexByte(contractID, ':'); i >= 0 {
		contractID = contractID[i+1:]
	}
	return labelValue(contractID)
}

// desired is the Service one actor's HTTP-server link calls for.
type desired struct {
	name   string
	port   int32
	labels map[string]string
	link   lattice.LinkDefinition
}

// plan is the desired state of the namespace computed from the links.
type plan struct {
	// want is the Services that must exist, by name.
	want map[string]desired
	// hold names Services whose link is there but unusable (malformed values): they are neither
	// updated nor deleted until the link is fixed or removed.
	hold map[string]error
	// refused names, by Service name, the links no Service can serve because their listener is
	// out of a Service's reach (loopback, port 0): the link makes no Service.
	refused map[string][]error
}

// planServices computes the Services the HTTP-server links call for. Links whose listener a
// Service cannot reach are refused (plan.refused) and left out. An actor with several other such
// links (several link names) gets one Service, from the link named "default" if there is one,
// else from the first by link name and provider id.
func planServices(links []lattice.LinkDefinition, managed map[string]string) plan {
	byActor := map[string][]lattice.LinkDefinition{}
	for _, l := range links {
		if l.ContractID != httpserver.ContractID {
			continue
		}
		byActor[l.ActorID] = append(byActor[l.ActorID], l)
	}
	p := plan{want: map[string]desired{}, hold: map[string]error{}, refused: map[string][]error{}}
	for actor, all := range byActor {
		slices.SortFunc(all, func(a, b lattice.LinkDefinition) int {
			return cmp.Or(
				-cmp.Compare(boolInt(a.LinkName == lattice.DefaultLinkName), boolInt(b.LinkName == lattice.DefaultLinkName)),
				cmp.Compare(a.LinkName, b.LinkName),
				cmp.Compare(a.ProviderID, b.ProviderID),
			)
		})
		name := ServiceName(actor)
		ls := all[:0:0]
		for _, l := range all {
			if _, err := ServicePort(l); errors.Is(err, httpserver.ErrUnreachable) {
				p.refused[name] = append(p.refused[name], fmt.Errorf("link %s (actor %s, provider %s, link name %s) refused: %w; no Service for it",
					l.ID, l.ActorID, l.ProviderID, l.LinkName, err))
				continue
			}
			ls = append(ls, l)
		}
		if len(ls) == 0 {
			continue
		}
		l := ls[0]
		port, err := ServicePort(l)
		if err != nil {
			p.hold[name] = fmt.Errorf("link %s of actor %s: %w", l.ID, actor, err)
			continue
		}
		labels := maps.Clone(managed)
		labels[LabelActorID] = labelValue(l.ActorID)
		labels[LabelContract] = contractLabel(l.ContractID)
		labels[LabelLinkName] = labelValue(l.LinkName)
		labels[LabelProviderID] = labelValue(l.ProviderID)
		p.want[name] = desired{name: name, port: port, labels: labels, link: l}
	}
	return p
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ports returns the Service ports of d.
func (d desired) ports() []corev1.ServicePort {
	return []corev1.ServicePort{{
		Name:       portName,
		Protocol:   corev1.ProtocolTCP,
		Port:       d.port,
		TargetPort: intstr.FromInt32(d.port),
	}}
}

// object returns the Service to create, owned by owner when it is not nil.
func (d desired) object(namespace string, selector map[string]string, owner *metav1.OwnerReference) *corev1.Service {
	var owners []metav1.OwnerReference
	if owner != nil {
		owners = []metav1.OwnerReference{*owner}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: namespace, Labels: maps.Clone(d.labels), OwnerReferences: owners},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: maps.Clone(selector),
			Ports:    d.ports(),
		},
	}
}

// matches reports whether svc already is what d calls for: d's labels (others may be there too),
// owner among its owners, exactly the selector, and one TCP port with d's port as port and target
// port.
func (d desired) matches(svc *corev1.Service, selector map[string]string, owner *metav1.OwnerReference) bool {
	if !hasOwner(svc.OwnerReferences, owner) {
		return false
	}
	for k, v := range d.labels {
		if svc.Labels[k] != v {
			return false
		}
	}
	if !maps.Equal(svc.Spec.Selector, selector) || len(svc.Spec.Ports) != 1 {
		return false
	}
	sp := svc.Spec.Ports[0]
	return sp.Port == d.port && sp.Protocol == corev1.ProtocolTCP && sp.TargetPort == intstr.FromInt32(d.port)
}

// mutate makes svc what d calls for, keeping everything else (cluster IP, other labels,
// annotations, other owners). A node port of an unchanged port is kept.
func (d desired) mutate(svc *corev1.Service, selector map[string]string, owner *metav1.OwnerReference) {
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	if !hasOwner(svc.OwnerReferences, owner) {
		svc.OwnerReferences = append(svc.OwnerReferences, *owner)
	}
	maps.Copy(svc.Labels, d.labels)
	svc.Spec.Selector = maps.Clone(selector)
	ports := d.ports()
	for _, old := range svc.Spec.Ports {
		if old.Port == d.port && old.Protocol == corev1.ProtocolTCP {
			ports[0].NodePort = old.NodePort
		}
	}
	svc.Spec.Ports = ports
}
