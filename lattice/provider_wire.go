package lattice

// The provider wire vocabulary (PROTOCOL.md §4, §8): what a host and a provider process say to
// each other besides links and invocations. Hosts and the provider SDK both use these types, so
// the bytes on each subject have one definition. A pushed link (.linkdefs.put / .del) that carries
// a reply subject is answered with an Ack, the control interface's shape (a Trellis extension;
// hosts publish without a reply and get none).

// HealthRequest is what a host sends on a provider's .health subject: an empty msgpack map.
type HealthRequest struct{}

// HealthReply is a provider's answer on .health: the msgpack map {healthy, message}.
type HealthReply struct {
	Healthy bool   `msgpack:"healthy" json:"healthy"`
	Message string `msgpack:"message" json:"message"`
}

// ShutdownRequest is what a host sends on a provider's .shutdown subject: JSON {"host_id": H}. A
// provider shuts down when HostID is its host (or empty, as old hosts send) and ignores requests
// for other hosts running the same provider and link name.
type ShutdownRequest struct {
	HostID string `json:"host_id"`
}

// ShutdownAck is the text a provider replies to a shutdown request before it exits, as upstream
// providers send it.
const ShutdownAck = "shutting down"

// Provider states as a Trellis host's inventory reports them in ProviderDescription.State (a
// Trellis extension, docs/compat.md):
//
//	starting ──launched──► running ──process died──► restarting ──relaunched──► running
//	    │                     │                          │
//	    └── sp, host stop ────┴──────► stopping ◄────────┘
const (
	ProviderStarting   = "starting"
	ProviderRunning    = "running"
	ProviderRestarting = "restarting"
	ProviderStopping   = "stopping"
)

// Provider health as a Trellis host's inventory reports it in ProviderDescription.Health: empty
// until the first health check, then one of these.
const (
	ProviderHealthy   = "healthy"
	ProviderUnhealthy = "unhealthy"
)
