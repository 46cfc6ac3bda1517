// Package lattice is Trellis's shared vocabulary: keys (including the module and service kinds),
// wascap claims, NATS subjects, control-interface messages, CloudEvents, the invocation envelope
// and its anti-forgery token, link definitions and their JetStream store, and the ctl client.
//
// It is what hosts, providers, the applier, the dashboard and the CLI agree on. It must not import
// any other package of this project; everything else may import it.
package lattice
