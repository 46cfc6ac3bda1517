// Package host is a Trellis host: it joins a lattice over NATS (or starts an embedded
// nats-server with JetStream), runs signed actors with wazero, serves the control interface,
// routes invocations by link definitions and call aliases, and publishes heartbeats and events.
//
// It imports lattice (and lattice/contracts) only; never providers, applier or dashboard.
//
// Actor lifecycle, per actor on this host:
//
//	         la (verify claims, compile, instantiate one)
//	(none) ─────────────────────────────────────────────▶ running(N instances)
//	   ▲                                                   │  ▲   │
//	   │ sa count=0 / scale 0 / host stop                  │  └───┘ la / scale / upd (swap module)
//	   └───────────────────────────────────────────────────┘
//
// A running actor has one queue subscription on wasmbus.rpc.{L}.{A} and a pool of at most N wasm
// instances; a call takes a free instance (instantiating one when none is idle and fewer than N
// exist), so no instance ever runs two calls at once.
package host
