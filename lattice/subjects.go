package lattice

import "strings"

// Defaults of the lattice (PROTOCOL.md notation).
const (
	DefaultLattice    = "default"
	DefaultLinkName   = "default"
	DefaultCtlPrefix  = "wasmbus.ctl"
	DefaultRPCTimeout = 2000 // milliseconds
)

// Subjects builds the NATS subjects of one lattice. The zero value is not usable; use NewSubjects.
type Subjects struct {
	Lattice string // {L}
	Ctl     string // {C}
}

// NewSubjects returns the subjects of lattice (default when empty) under the default control prefix.
func NewSubjects(lattice string) Subjects {
	if lattice == "" {
		lattice = DefaultLattice
	}
	return Subjects{Lattice: lattice, Ctl: DefaultCtlPrefix}
}

func (s Subjects) ctl(parts ...string) string {
	return s.Ctl + "." + s.Lattice + "." + strings.Join(parts, ".")
}

// PingHosts is where every host answers a ping: {C}.{L}.ping.hosts.
func (s Subjects) PingHosts() string { return s.ctl("ping", "hosts") }

// Inventory is where one host answers with its inventory.
func (s Subjects) Inventory(hostID string) string { return s.ctl("get", hostID, "inv") }

// GetClaims is where one host (queue group) answers with the lattice's claims.
func (s Subjects) GetClaims() string { return s.ctl("get", "claims") }

// GetLinks is where one host (queue group) answers with the lattice's links.
func (s Subjects) GetLinks() string { return s.ctl("get", "links") }

// LinkPut is where one host (queue group) puts a link.
func (s Subjects) LinkPut() string { return s.ctl("linkdefs", "put") }

// LinkDel is where one host (queue group) deletes a link.
func (s Subjects) LinkDel() string { return s.ctl("linkdefs", "del") }

// AuctionActor is where hosts bid to run an actor.
func (s Subjects) AuctionActor() string { return s.ctl("auction", "actor") }

// AuctionProvider is where hosts bid to run a provider.
func (s Subjects) AuctionProvider() string { return s.ctl("auction", "provider") }

// RegistriesPut is where every host takes registry credentials.
func (s Subjects) RegistriesPut() string { return s.ctl("registries", "put") }

// Command is where one host takes a command (la, sa, scale, upd, lp, sp, stop).
func (s Subjects) Command(hostID, cmd string) string { return s.ctl("cmd", hostID, cmd) }

// QueueGroup is the queue group of control subjects answered by one host only.
func (s Subjects) QueueGroup() string { return s.Ctl + "." + s.Lattice }

// Host command names used with Command.
const (
	CmdLaunchActor    = "la"
	CmdStopActor      = "sa"
	CmdScaleActor     = "scale"
	CmdUpdateActor    = "upd"
	CmdLaunchProvider = "lp"
	CmdStopProvider   = "sp"
	CmdStopHost       = "stop"
)

// Events is the subject hosts publish CloudEvents on.
func (s Subjects) Events() string { return "wasmbus.evt." + s.Lattice }

// rpcPrefix is the prefix of invocation subjects, wasmbus.rpc.{L}.
func (s Subjects) rpcPrefix() string { return "wasmbus.rpc." + s.Lattice }

// Actor is the invocation subject of an actor; its queue group is the subject itself.
func (s Subjects) Actor(actorID string) string { return s.rpcPrefix() + "." + actorID }

// Provider is the invocation subject of a provider instance; its queue group is "rpc".
func (s Subjects) Provider(providerID, linkName string) string {
	return s.rpcPrefix() + "." + providerID + "." + orDefault(linkName, DefaultLinkName)
}

// ProviderLinkPut is where hosts push a link put to a provider.
func (s Subjects) ProviderLinkPut(providerID, linkName string) string {
	return s.Provider(providerID, linkName) + ".linkdefs.put"
}

// ProviderLinkDel is where hosts push a link delete to a provider.
func (s Subjects) ProviderLinkDel(providerID, linkName string) string {
	return s.Provider(providerID, linkName) + ".linkdefs.del"
}

// ProviderHealth is where a provider answers health checks.
func (s Subjects) ProviderHealth(providerID, linkName string) string {
	return s.Provider(providerID, linkName) + ".health"
}

// ProviderShutdown is where a provider takes the shutdown request.
func (s Subjects) ProviderShutdown(providerID, linkName string) string {
	return s.Provider(providerID, linkName) + ".shutdown"
}

// ProviderQueueGroup is the queue group providers use on their invocation subject.
const ProviderQueueGroup = "rpc"

// Bucket is the JetStream KV bucket holding links, claims and refmaps.
func (s Subjects) Bucket() string { return "LATTICEDATA_" + s.Lattice }

// ObjectStore is the JetStream object store used for chunked invocations.
func (s Subjects) ObjectStore() string { return s.Lattice }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
