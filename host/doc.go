// Package host is a Trellis host: it joins a lattice over NATS (or starts an embedded
// nats-server with JetStream), runs signed actors with wazero, serves the control interface,
// routes invocations by link definitions and call aliases, and publishes heartbeats and events.
//
// It imports lattice (and lattice/contracts) and the oci registry client only; never providers,
// applier or dashboard.
//
// Actor lifecycle, per actor on this host:
//
//	         la (verify claims, compile, instantiate one)
//	(none) ─────────────────────────────────────────────▶ running(N instances of revision R)
//	   ▲                                                   │  ▲   │
//	   │ sa count=0 / scale 0 / host stop                  │  └───┘ la of the same module, scale: N changes
//	   └───────────────────────────────────────────────────┘        upd to a revision above R: module swapped
//
// la of other bytes under a running key is refused (actor_start_failed, pointing to upd); upd to
// a revision not above R is refused (actor_update_failed); upd to the module already running does
// nothing and reports actor_updated.
//
// A running actor has one queue subscription on wasmbus.rpc.{L}.{A} and a pool of at most N wasm
// instances; a call takes a free instance (instantiating one when none is idle and fewer than N
// exist), so no instance ever runs two calls at once.
package host
