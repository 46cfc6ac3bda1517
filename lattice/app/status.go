package app

import (
	"fmt"
	"time"
)

// State is where an app stands.
type State string

// The states of an app.
const (
	// StateDeployed: everything the deployed version asks for runs.
	StateDeployed State = "deployed"
	// StateReconciling: the reconciler is bringing the lattice to the deployed version; the
	// message says what is missing.
	StateReconciling State = "reconciling"
	// StateFailed: something the deployed version asks for cannot be done now; the message says
	// why (a pull that failed, no host with the required labels). The reconciler keeps trying.
	StateFailed State = "failed"
	// StateUndeployed: no version is deployed (what an earlier version started is being, or has
	// been, removed).
	StateUndeployed State = "undeployed"
)

// EventStatus is the short name of the CloudEvent the reconciler publishes on the lattice's event
// subject whenever an app's status changes (a Trellis extension): com.wasmcloud.lattice.app_status,
// with a Status as data.
const EventStatus = "app_status"

// Status is what the reconciler last saw of an app, stored under STATUS_{name}.
type Status struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // the deployed version; "" when undeployed
	State   State  `json:"state"`
	// Message says what is missing (reconciling) or what went wrong (failed).
	Message    string            `json:"message,omitempty"`
	Components []ComponentStatus `json:"components,omitempty"`
	Links      []LinkStatus      `json:"links,omitempty"`
	// Hosts are the hosts the reconciler placed work on or considered, with whether each runs
	// all of its share: a host becomes ready once it does.
	Hosts []HostShare `json:"hosts,omitempty"`
	// Reconciler is the host whose reconciler wrote this status.
	Reconciler string `json:"reconciler,omitempty"`
	// Since is when the state last changed; Updated when the status was last written.
	Since   time.Time `json:"since"`
	Updated time.Time `json:"updated"`
}

// ComponentStatus is one component's desired and running counts: actor instances, or hosts
// running a capability provider.
type ComponentStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Image   string `json:"image"`
	Desired int    `json:"desired"`
	Actual  int    `json:"actual"`
	// Message says what is wrong with this component, if anything.
	Message string `json:"message,omitempty"`
}

// LinkStatus is one link the app declares, with whether it is in place.
type LinkStatus struct {
	ActorID    string `json:"actor_id"`
	ProviderID string `json:"provider_id"`
	ContractID string `json:"contract_id"`
	LinkName   string `json:"link_name"`
	// Source and Target are the manifest's component names.
	Source string `json:"source"`
	Target string `json:"target"`
	Ready  bool   `json:"ready"`
	// Removing marks a link an earlier version put that is being deleted.
	Removing bool `json:"removing,omitempty"`
}

// HostShare is one host's share of an app.
type HostShare struct {
	HostID string `json:"host_id"`
	Ready  bool   `json:"ready"`
}

// Ready reports whether the host runs all of its share of the app.
func (s *Status) Ready(hostID string) bool {
	for _, h := range s.Hosts {
		if h.HostID == hostID {
			return h.Ready
		}
	}
	return false
}

// Behind reports whether a status is behind the deployed version of its app (deployed is the
// record's, "" when undeployed): missing while a version is deployed, or about another version.
// Such a status says nothing yet about what is deployed; why says what the reconciler has still
// to do. The CLI and the dashboard show it so, each in its words.
func Behind(deployed string, st *Status) (why string, behind bool) {
	switch {
	case st == nil && deployed != "":
		return "waiting for a reconciler", true
	case st == nil || st.Version == deployed:
		return "", false
	case deployed == "":
		return fmt.Sprintf("waiting for the reconciler to undeploy version %s", st.Version), true
	}
	return fmt.Sprintf("waiting for the reconciler to act on version %s (it last reported on %s)", deployed, VersionText(st.Version)), true
}

// VersionText names a version in a sentence: "version v1", or "no version" for "".
func VersionText(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}
