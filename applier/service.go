package applier

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/trellis-lattice/trellis/lattice"
)

// HTTPServerContract is the contract whose links get a Service.
const HTTPServerContract = "wasmcloud:httpserver"

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

// ErrPort says a link's port or address value cannot give a Service port.
var ErrPort = errors.New("no valid port")

// ServicePort returns the port an HTTP-server link listens on, which its Service exposes (and
// targets): the link value port, else the port of address (IP:PORT), else the address in
// config_json, else in config_b64, else DefaultPort. Keys match case-insensitively. A value that is
// there but unusable (not a number, port 0, not IP:PORT) is an error wrapping ErrPort.
func ServicePort(l lattice.LinkDefinition) (int32, error) {
	if v, ok := l.Value("port"); ok {
		return parsePort("port", v)
	}
	if v, ok := l.Value("address"); ok {
		return addressPort("address", v)
	}
	if v, ok := l.Value("config_json"); ok {
		if p, found, err := configAddressPort("config_json", []byte(v)); found || err != nil {
			return p, err
		}
	}
	if v, ok := l.Value("config_b64"); ok {
		raw, err := decodeBase64(v)
		if err != nil {
			return 0, fmt.Errorf("%w: config_b64: not base64: %v", ErrPort, err)
		}
		if p, found, err := configAddressPort("config_b64", raw); found || err != nil {
			return p, err
		}
	}
	return DefaultPort, nil
}

func parsePort(what, v string) (int32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %s %q: want a number from 1 to 65535", ErrPort, what, v)
	}
	return int32(n), nil
}

func addressPort(what, v string) (int32, error) {
	_, port, err := net.SplitHostPort(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: want IP:PORT such as 0.0.0.0:8080: %v", ErrPort, what, v, err)
	}
	return parsePort(what+" port", port)
}

// configAddressPort reads the address of an httpserver config document; found is false when it
// has none.
func configAddressPort(what string, raw []byte) (int32, bool, error) {
	var doc struct {
		Address *string `json:"address"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, true, fmt.Errorf("%w: %s: not a JSON object: %v", ErrPort, what, err)
	}
	if doc.Address == nil {
		return 0, false, nil
	}
	p, err := addressPort(what+" address", *doc.Address)
	return p, true, err
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
	// hold names Services whose link is there but unusable (a bad port): they are neither
	// updated nor deleted until the link is fixed or removed.
	hold map[string]error
}

// planServices computes the Services the HTTP-server links call for. An actor with several such
// links (several link names) gets one Service, from the link named "default" if there is one,
// else from the first by link name and provider id.
func planServices(links []lattice.LinkDefinition, managed map[string]string) plan {
	byActor := map[string][]lattice.LinkDefinition{}
	for _, l := range links {
		if l.ContractID != HTTPServerContract {
			continue
		}
		byActor[l.ActorID] = append(byActor[l.ActorID], l)
	}
	p := plan{want: map[string]desired{}, hold: map[string]error{}}
	for actor, ls := range byActor {
		slices.SortFunc(ls, func(a, b lattice.LinkDefinition) int {
			return cmp.Or(
				-cmp.Compare(boolInt(a.LinkName == lattice.DefaultLinkName), boolInt(b.LinkName == lattice.DefaultLinkName)),
				cmp.Compare(a.LinkName, b.LinkName),
				cmp.Compare(a.ProviderID, b.ProviderID),
			)
		})
		l := ls[0]
		name := ServiceName(actor)
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
