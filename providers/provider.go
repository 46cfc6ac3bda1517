// Package providers is the capability-provider SDK of Trellis: what every provider binary shares.
// It owns the provider side of the lattice wire protocol (PROTOCOL.md §4, §7, §8): reading HostData
// from stdin, connecting to the lattice, link bookkeeping (links replayed from HostData, then pushed
// on .linkdefs.put/.del), the anti-forgery and link checks of incoming invocations, health
// answers, the shutdown request, and signed calls to actors. A provider implements Provider (and
// optionally Initializer, HealthChecker, Shutdowner); Run or Main does the rest.
//
// Subpackages implement contracts (httpserver, keyvalue, messaging) and import this package;
// providertest is the conformance suite every provider passes. This package imports lattice only
// (and its libraries: nats.go, zerolog); never host, actor, cmd or a provider.
//
// The lifecycle of a provider process (Main, then Run):
//
//	stdin line ──ReadHostData──► configured ──connect──► connected ──Init──► initialised
//	  (malformed: stderr, exit 2)  (nats error: exit 1)       (error: exit 1)     │
//	                                                                              │ PutLink each
//	                                                                              │ HostData link
//	                                                                              ▼
//	                                            subscribe linkdefs, shutdown, rpc, health
//	                                                                              │
//	                                                                              ▼
//	  serving: .linkdefs.put → PutLink, record (or record failed)
//	           .linkdefs.del → DeleteLink, forget
//	           .health       → HealthChecker (default healthy)
//	           rpc           → decode → anti-forgery → target is us → origin linked → Handle
//	                           (each invocation in its own goroutine)
//	                                                                              │
//	  ctx done (SIGINT, SIGTERM) or .shutdown for this host (acked first)         │
//	                                                                              ▼
//	  draining: unsubscribe all, wait for in-flight invocations (≤ RPC timeout, then cancel)
//	                                                                              │
//	                                                                              ▼
//	  stopped: Shutdowner.Shutdown, flush, close NATS; Run returns nil, Main exits 0
package providers

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
)

// Provider is a capability provider: the part that differs between contracts.
//
// PutLink is called for each link to this provider (from HostData at start, then as hosts push
// them), before any invocation from that actor is delivered; an error means the link could not be
// applied (it is logged and the link is not recorded, so the actor's invocations are refused).
// PutLink for an actor that is already linked replaces its link. DeleteLink is called when a link
// goes away; its error is logged and the link is forgotten anyway.
//
// Handle serves one invocation from a linked actor; it is called concurrently, each invocation in
// its own goroutine. The returned bytes are the reply msg; an error goes back as the response
// error text. ctx ends at the lattice's RPC timeout or when the provider stops.
type Provider interface {
	PutLink(ctx context.Context, l lattice.LinkDefinition) error
	DeleteLink(ctx context.Context, l lattice.LinkDefinition) error
	Handle(ctx context.Context, inv Invocation) ([]byte, error)
}

// Invocation is an invocation of the provider that passed the checks: signed by a trusted cluster
// key, aimed at this provider, from an actor linked to it.
type Invocation struct {
	// Origin is the calling actor.
	Origin lattice.Entity
	// Operation is the operation name, such as "KeyValue.Get".
	Operation string
	// Msg is the payload (for most contracts, msgpack), reassembled when it was chunked.
	Msg []byte
	// Link is the caller's link to this provider, with its values.
	Link lattice.LinkDefinition
	// ID is the invocation id.
	ID string
}

// Initializer is implemented by providers that need their Host handle or one-time setup. Init is
// called once after the lattice connection is up and before any link is replayed; an error stops
// the provider.
type Initializer interface {
	Init(ctx context.Context, h *Host) error
}

// HealthChecker is implemented by providers that can tell whether they are healthy. Without it, a
// running provider answers healthy.
type HealthChecker interface {
	Health(ctx context.Context) (healthy bool, message string)
}

// Shutdowner is implemented by providers that hold resources (listeners, connections). Shutdown is
// called once when the provider stops, after invocations are drained and before the lattice
// connection closes.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Config is what a provider binary tells the SDK about itself.
type Config struct {
	// ContractID is the contract the provider implements, such as "wasmcloud:httpserver". It is
	// the contract id of the provider's origin when it calls actors, and links for another contract
	// are refused.
	ContractID string
	// Name is a human name for logs (default: the contract id).
	Name string
	// MaxInvocationBytes bounds the payload of an invocation the provider accepts, inline or
	// chunked (checked before a chunked payload is read); 0 is lattice.DefaultMaxInvocationBytes.
	MaxInvocationBytes int64
	// Logger receives the SDK's logs; Run uses it as given (the zero value logs nothing). Main
	// replaces it with one configured from HostData (NewLogger).
	Logger zerolog.Logger
	// TracerProvider makes the SDK's spans (tracing.go) and is handed to the provider through
	// Host.TracerProvider; nil, the default, makes none.
	TracerProvider trace.TracerProvider
}

// DefaultConfig returns a Config for contract with a disabled logger.
func DefaultConfig(contractID string) Config {
	return Config{ContractID: contractID, Name: contractID, Logger: zerolog.Nop()}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	if c.ContractID == "" {
		return errors.New("provider config: empty contract id")
	}
	return nil
}

func (c Config) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ContractID
}

// Errors for branching with errors.Is.
var (
	// ErrNotLinked: the invocation's origin has no link to this provider.
	ErrNotLinked = errors.New("not linked")
	// ErrWrongTarget: the invocation is for another provider, link name or contract.
	ErrWrongTarget = errors.New("invocation is not for this provider")
	// ErrActorNotFound: nothing answered on the actor's subject.
	ErrActorNotFound = lattice.ErrNoResponder
)
