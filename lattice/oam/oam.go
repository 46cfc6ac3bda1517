// Package oam reads and checks application manifests in wadm's Open Application Model format
// (apiVersion core.oam.dev/v1beta1, kind Application), as wadm 0.4 to 0.7 accepted them for the
// actor era of wasmCloud: components of type actor and capability, with the traits spreadscaler,
// daemonscaler and linkdef.
//
// It owns the manifest types, parsing (YAML or JSON) and validation, and nothing else: storing
// manifests and reconciling them live elsewhere. It imports no other package of this project and
// does no I/O.
package oam

import "encoding/json"

// The manifest's fixed header values.
const (
	APIVersion = "core.oam.dev/v1beta1"
	Kind       = "Application"
)

// Component types.
const (
	TypeActor      = "actor"
	TypeCapability = "capability"
)

// Trait types.
const (
	TraitSpreadScaler = "spreadscaler"
	TraitDaemonScaler = "daemonscaler"
	TraitLinkDef      = "linkdef"
)

// Metadata annotation keys.
const (
	AnnotationVersion     = "version"
	AnnotationDescription = "description"
)

// Manifest is one application: its name, version and components.
type Manifest struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names the application; annotations carry its version and description.
type Metadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Spec lists the components.
type Spec struct {
	Components []Component `json:"components"`
}

// Component is an actor or a capability provider with its traits.
type Component struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Properties Properties `json:"properties"`
	Traits     []Trait    `json:"traits,omitempty"`
}

// Properties of a component. Contract, LinkName and Config apply to capabilities only.
type Properties struct {
	Image    string `json:"image"`
	Contract string `json:"contract,omitempty"`
	LinkName string `json:"link_name,omitempty"`
	// Config is the provider's configuration as the manifest gives it (an object or a string);
	// ConfigJSON turns it into the string a launch command carries.
	Config json.RawMessage `json:"config,omitempty"`
}

// Trait is one trait of a component; exactly one of Scaler and Link is set, by Type.
type Trait struct {
	Type   string
	Scaler *ScalerProperties // spreadscaler, daemonscaler
	Link   *LinkProperties   // linkdef
}

// ScalerProperties are a spreadscaler's or a daemonscaler's. For a spreadscaler Replicas is the
// total over all spreads; for a daemonscaler it is the number on every matching host. wadm 0.4 to
// 0.7 read "replicas"; later wadm (0.10 on) writes "instances" and still reads "replicas". Both
// spellings are read here (an error when both are given and differ); "replicas" is written, which
// every wadm version reads.
type ScalerProperties struct {
	Replicas int      `json:"replicas"`
	Spread   []Spread `json:"spread,omitempty"`
	// MinInstances and MaxInstances (Trellis extensions, for actors) are the fewest live wasm
	// instances the host's idle timeout leaves open and the most that serve calls at once, on
	// each host that runs the actor; nil leaves the host's defaults (0, and the count there).
	MinInstances *int `json:"min_instances,omitempty"`
	MaxInstances *int `json:"max_instances,omitempty"`
}

// Spread is one placement rule: the host labels it requires and its share of the replicas
// (SpreadReplicas computes the shares). A daemonscaler ignores weights.
type Spread struct {
	Name         string            `json:"name"`
	Requirements map[string]string `json:"requirements,omitempty"`
	// Weight is the spread's share, relative to the other spreads' weights (as in wadm: 80 and 20
	// split 4:1, and so do 40 and 10); nil when the manifest gives none. Either every spread of a
	// spreadscaler has a weight or none has (then they share equally).
	Weight *int `json:"weight,omitempty"`
}

// LinkProperties are a linkdef's: the capability component it links to and the link values.
type LinkProperties struct {
	Target string            `json:"target"`
	Values map[string]string `json:"values,omitempty"`
}

// Version is the manifest's version annotation ("" when it has none).
func (m *Manifest) Version() string { return m.Metadata.Annotations[AnnotationVersion] }

// Description is the manifest's description annotation.
func (m *Manifest) Description() string { return m.Metadata.Annotations[AnnotationDescription] }
