package lattice

// Control-interface payloads (PROTOCOL.md §5). All are JSON.

// Ack is the immediate answer to every control command.
type Ack struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
}

// Host is a ping.hosts reply.
type Host struct {
	ID             string            `json:"id"`
	Issuer         string            `json:"issuer"`
	Labels         map[string]string `json:"labels"`
	FriendlyName   string            `json:"friendly_name"`
	UptimeSeconds  uint64            `json:"uptime_seconds"`
	UptimeHuman    string            `json:"uptime_human"`
	Version        string            `json:"version"`
	ClusterIssuers string            `json:"cluster_issuers"`
	JSDomain       string            `json:"js_domain"`
	CtlHost        string            `json:"ctl_host"`
	ProvRPCHost    string            `json:"prov_rpc_host"`
	RPCHost        string            `json:"rpc_host"`
	LatticePrefix  string            `json:"lattice_prefix"`
}

// HostInventory is a get.{H}.inv reply.
type HostInventory struct {
	HostID       string                `json:"host_id"`
	Issuer       string                `json:"issuer"`
	Labels       map[string]string     `json:"labels"`
	FriendlyName string                `json:"friendly_name"`
	Actors       []ActorDescription    `json:"actors"`
	Providers    []ProviderDescription `json:"providers"`
}

// ActorDescription is one actor in an inventory.
type ActorDescription struct {
	ID        string          `json:"id"`
	ImageRef  string          `json:"image_ref"`
	Name      string          `json:"name"`
	Instances []ActorInstance `json:"instances"`
	// InstancesInUse, InstancesIdle, MaxInstances and MinInstances are Trellis extensions
	// (docs/compat.md) about the live wasm instances, which come and go on demand while the
	// Instances above (the count) stay: how many are in a call, how many wait idle, the most
	// that may exist and the fewest the idle timeout leaves open. All are 0 at zero instances.
	InstancesInUse int `json:"instances_in_use"`
	InstancesIdle  int `json:"instances_idle"`
	MaxInstances   int `json:"max_instances,omitempty"`
	MinInstances   int `json:"min_instances,omitempty"`
}

// ActorInstance is one running instance of an actor.
type ActorInstance struct {
	Annotations map[string]string `json:"annotations"`
	InstanceID  string            `json:"instance_id"`
	Revision    int               `json:"revision"`
}

// ProviderDescription is one provider in an inventory.
type ProviderDescription struct {
	ID          string            `json:"id"`
	ImageRef    string            `json:"image_ref"`
	ContractID  string            `json:"contract_id"`
	LinkName    string            `json:"link_name"`
	Name        string            `json:"name"`
	InstanceID  string            `json:"instance_id"`
	Annotations map[string]string `json:"annotations"`
	Revision    int               `json:"revision"`
	// State, Restarts, Health and LastError are Trellis extensions (docs/compat.md): starting,
	// running, restarting or stopping; how often the process was restarted; "", healthy or
	// unhealthy; why the process last died (with the last lines it wrote), "" if it never did.
	State     string `json:"state,omitempty"`
	Restarts  int    `json:"restarts,omitempty"`
	Health    string `json:"health,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// ClaimsList is a get.claims reply; every value is a string.
// Paged like LinkList, by sub, when the claims do not fit in one NATS message.
type ClaimsList struct {
	Claims []map[string]string `json:"claims"`
	// Next is the sub of the last claims of this page when more follow; empty on the last page.
	Next string `json:"next,omitempty"`
	// Total is how many claims the host holds, set on a paged reply.
	Total int `json:"total,omitempty"`
}

// LinkList is a get.links reply. When every link does not fit in one NATS message, a Trellis
// host answers with the first that fit, in the order of their ids (what a wasmCloud 0.x client
// reads), and sets Next and Total (extensions): ask again with PageQuery{After: Next} for the
// rest.
type LinkList struct {
	Links []LinkDefinition `json:"links"`
	// Next is the id of the last link of this page when more follow; empty on the last page.
	Next string `json:"next,omitempty"`
	// Total is how many links the host holds, set on a paged reply.
	Total int `json:"total,omitempty"`
}

// LinkDelete is the linkdefs.del payload.
type LinkDelete struct {
	ActorID    string `json:"actor_id"`
	ContractID string `json:"contract_id"`
	LinkName   string `json:"link_name"`
}

// StartActorCommand is the la payload.
type StartActorCommand struct {
	ActorRef    string            `json:"actor_ref"`
	HostID      string            `json:"host_id"`
	Count       uint16            `json:"count"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// MinInstances and MaxInstances (Trellis extensions, docs/compat.md) set the fewest live wasm
	// instances the host's idle timeout leaves open and the most that may exist (by default the
	// count); nil keeps what the actor has (a new actor: 0, and the count).
	MinInstances *uint16 `json:"min_instances,omitempty"`
	MaxInstances *uint16 `json:"max_instances,omitempty"`
}

// StopActorCommand is the sa payload; Count 0 stops all instances.
type StopActorCommand struct {
	ActorRef    string            `json:"actor_ref"`
	Count       uint16            `json:"count"`
	HostID      string            `json:"host_id"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ScaleActorCommand is the scale payload.
type ScaleActorCommand struct {
	ActorID     string            `json:"actor_id"`
	ActorRef    string            `json:"actor_ref"`
	Count       uint16            `json:"count"`
	HostID      string            `json:"host_id"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// MinInstances and MaxInstances are as in StartActorCommand. With either set, Count 0 keeps
	// the count of a running actor and changes only these limits.
	MinInstances *uint16 `json:"min_instances,omitempty"`
	MaxInstances *uint16 `json:"max_instances,omitempty"`
}

// UpdateActorCommand is the upd payload.
type UpdateActorCommand struct {
	ActorID     string            `json:"actor_id"`
	HostID      string            `json:"host_id"`
	NewActorRef string            `json:"new_actor_ref"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StartProviderCommand is the lp payload.
type StartProviderCommand struct {
	ProviderRef   string            `json:"provider_ref"`
	LinkName      string            `json:"link_name"`
	HostID        string            `json:"host_id"`
	Configuration string            `json:"configuration,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// StopProviderCommand is the sp payload.
type StopProviderCommand struct {
	ProviderRef string            `json:"provider_ref"`
	LinkName    string            `json:"link_name"`
	ContractID  string            `json:"contract_id"`
	HostID      string            `json:"host_id"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StopHostCommand is the stop payload; Timeout is in milliseconds.
type StopHostCommand struct {
	HostID  string `json:"host_id"`
	Timeout uint64 `json:"timeout,omitempty"`
}

// ActorAuctionRequest is the auction.actor payload.
type ActorAuctionRequest struct {
	ActorRef    string            `json:"actor_ref"`
	Constraints map[string]string `json:"constraints"`
}

// ActorAuctionAck is a host's answer to an actor auction.
type ActorAuctionAck struct {
	ActorRef    string            `json:"actor_ref"`
	Constraints map[string]string `json:"constraints"`
	HostID      string            `json:"host_id"`
}

// ProviderAuctionRequest is the auction.provider payload.
type ProviderAuctionRequest struct {
	ProviderRef string            `json:"provider_ref"`
	LinkName    string            `json:"link_name"`
	Constraints map[string]string `json:"constraints"`
}

// ProviderAuctionAck is a host's answer to a provider auction.
type ProviderAuctionAck struct {
	ProviderRef string            `json:"provider_ref"`
	LinkName    string            `json:"link_name"`
	Constraints map[string]string `json:"constraints"`
	HostID      string            `json:"host_id"`
}

// RegistryCredential is one registry's credentials in registries.put.
type RegistryCredential struct {
	RegistryType string `json:"registryType,omitempty"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Token        string `json:"token,omitempty"`
}

// RegistryCredentialMap is the registries.put payload: server → credentials.
type RegistryCredentialMap map[string]RegistryCredential
