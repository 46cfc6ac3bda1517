package dashboard

import (
	"strings"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
)

// View is the dashboard's picture of the whole lattice: GET /api/lattice answers it and the
// websocket sends it whenever it changes.
type View struct {
	Lattice string `json:"lattice"`
	// Connected: the dashboard's NATS connection is up.
	Connected bool `json:"connected"`
	// Ready: the first refresh of the lattice is done.
	Ready bool `json:"ready"`
	// RefreshError is the latest refresh's error, empty when it went through.
	RefreshError string `json:"refresh_error,omitempty"`

	Hosts     []HostView     `json:"hosts"`
	Actors    []ActorView    `json:"actors"`
	Providers []ProviderView `json:"providers"`
	Links     []LinkView     `json:"links"`
	// Claims are the lattice's claims (get.claims): one string map per actor or provider.
	Claims []map[string]string `json:"claims"`
	// Applications are the lattice's declarative apps (GET /api/apps answers the same).
	Applications AppsView `json:"applications"`
}

// AppsView is the lattice's declarative applications, as the apps store and the reconciler
// lease tell.
type AppsView struct {
	// Enabled: the dashboard has JetStream, so it can read the apps store.
	Enabled bool `json:"enabled"`
	// Synced: the apps store was read once; until then Apps may be incomplete.
	Synced bool `json:"synced"`
	// Error says why the apps store or the lease cannot be read now, empty when they can.
	Error string `json:"error,omitempty"`
	// Reconciler is the host holding the reconciler lease; "" when no reconciler is running, so
	// nothing acts on deployments.
	Reconciler string    `json:"reconciler"`
	Apps       []AppView `json:"apps"`
}

// App states besides the reconciler's (app.State): pending means the reconciler has not yet
// reported on the deployed version (just deployed, or no reconciler running).
const AppPending = "pending"

// AppView is one application: its versions, the deployed one, and the reconciler's status.
type AppView struct {
	Name string `json:"name"`
	// Description is the deployed version's, else the latest's.
	Description string `json:"description,omitempty"`
	// Owner put the latest version: "" for a user, or e.g. "helm/RELEASE" for an app a host
	// applies from its app directories (it deploys its own version again when it starts).
	Owner string `json:"owner,omitempty"`
	// Deployed is the deployed version, "" when undeployed; Latest the version put last.
	Deployed string `json:"deployed"`
	Latest   string `json:"latest"`
	// Versions are the stored versions, oldest first.
	Versions []AppVersionView `json:"versions"`
	// State is the status's state (deployed, reconciling, failed, undeployed) when the status is
	// about the deployed version, else pending.
	State string `json:"state"`
	// Status is what the reconciler last reported; nil before its first report.
	Status *app.Status `json:"status"`
}

// AppVersionView is one stored version of an app.
type AppVersionView struct {
	Version    string    `json:"version"`
	PutAt      time.Time `json:"put_at"`
	DeployedAt time.Time `json:"deployed_at,omitzero"`
}

// HostView is one host of the lattice.
type HostView struct {
	ID           string            `json:"id"`
	FriendlyName string            `json:"friendly_name"`
	Labels       map[string]string `json:"labels"`
	Version      string            `json:"version"`
	// UptimeSeconds is the host's uptime when the view was made.
	UptimeSeconds uint64 `json:"uptime_seconds"`
	// SilentSeconds is how long nothing was heard from the host when the view was made.
	SilentSeconds uint64 `json:"silent_seconds"`
	// Stale: the host missed its heartbeats; it is removed if it stays silent.
	Stale bool `json:"stale"`
	// Actors counts distinct actors, Instances their instances, Providers the providers.
	Actors    int `json:"actors"`
	Instances int `json:"instances"`
	Providers int `json:"providers"`
}

// ActorView is one actor and where it runs.
type ActorView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Caps      []string `json:"caps"`
	Issuer    string   `json:"issuer,omitempty"`
	Version   string   `json:"version,omitempty"`
	CallAlias string   `json:"call_alias,omitempty"`
	// Instances is the total over every host.
	Instances int              `json:"instances"`
	Hosts     []ActorPlacement `json:"hosts"`
}

// ActorPlacement is an actor on one host.
type ActorPlacement struct {
	HostID    string `json:"host_id"`
	ImageRef  string `json:"image_ref"`
	Instances int    `json:"instances"`
	Revision  int    `json:"revision"`
	// InUse, Idle, MinInstances and MaxInstances are the host's live wasm instances of the actor
	// (in a call, idle, the fewest kept and the most allowed), as of its last inventory; all 0
	// from a host that does not report them.
	InUse        int `json:"in_use"`
	Idle         int `json:"idle"`
	MinInstances int `json:"min_instances"`
	MaxInstances int `json:"max_instances"`
}

// Provider statuses, from the host's provider state and the latest health check.
const (
	ProviderAwaiting   = "awaiting" // running, no health check answered yet
	ProviderHealthy    = lattice.ProviderHealthy
	ProviderUnhealthy  = lattice.ProviderUnhealthy
	ProviderRestarting = lattice.ProviderRestarting
	ProviderStarting   = lattice.ProviderStarting
	ProviderStopping   = lattice.ProviderStopping
)

// ProviderView is one provider on one host, under one link name.
type ProviderView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	ContractID string `json:"contract_id"`
	LinkName   string `json:"link_name"`
	HostID     string `json:"host_id"`
	ImageRef   string `json:"image_ref"`
	InstanceID string `json:"instance_id"`
	Revision   int    `json:"revision"`
	Restarts   int    `json:"restarts"`
	// Status is awaiting, healthy, unhealthy, restarting, starting or stopping.
	Status string `json:"status"`
}

// LinkView is one link definition.
type LinkView struct {
	ID         string            `json:"id"`
	ActorID    string            `json:"actor_id"`
	ProviderID string            `json:"provider_id"`
	ContractID string            `json:"contract_id"`
	LinkName   string            `json:"link_name"`
	Values     map[string]string `json:"values"`
	// Signed: the link carries a signature (PROTOCOL.md §10).
	Signed bool `json:"signed"`
	// Status is signed, unsigned or rejected; Reason says why a link was rejected.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Link statuses.
const (
	LinkSigned   = "signed"
	LinkUnsigned = "unsigned"
	LinkRejected = "rejected"
)

// providerStatus combines a Trellis host's provider state and health into one status.
func providerStatus(state, health string) string {
	switch state {
	case lattice.ProviderRestarting, lattice.ProviderStarting, lattice.ProviderStopping:
		return state
	}
	switch health {
	case lattice.ProviderHealthy:
		return ProviderHealthy
	case lattice.ProviderUnhealthy:
		return ProviderUnhealthy
	}
	return ProviderAwaiting
}

// linkView turns a get.links entry into its view; Status is "signed", "unsigned" or
// "rejected: reason" from Trellis hosts, empty from others (then the JWT tells).
func linkView(l lattice.LinkDefinition) LinkView {
	v := LinkView{
		ID: l.ID, ActorID: l.ActorID, ProviderID: l.ProviderID, ContractID: l.ContractID,
		LinkName: l.LinkName, Values: l.Values, Signed: l.JWT != "",
	}
	if v.ID == "" {
		v.ID = lattice.LinkID(l.ActorID, l.ContractID, l.LinkName)
	}
	if v.Values == nil {
		v.Values = map[string]string{}
	}
	status := strings.TrimSpace(l.Status)
	switch {
	case status == LinkSigned:
		v.Status, v.Signed = LinkSigned, true
	case status == LinkUnsigned:
		v.Status, v.Signed = LinkUnsigned, false
	case strings.HasPrefix(status, LinkRejected):
		v.Status = LinkRejected
		v.Reason = strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(status, LinkRejected), ":"))
	case v.Signed:
		v.Status = LinkSigned
	default:
		v.Status = LinkUnsigned
	}
	return v
}

// splitList splits a comma-joined claims list, dropping blanks.
func splitList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
