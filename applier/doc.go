// Package applier is the Kubernetes applier capability provider (contract
// cosmonic:kubernetes_applier) and the lattice's Service applier.
//
// It does two things in one provider process:
//
//   - The contract: a linked actor calls KubernetesApplier.Apply with a YAML or JSON manifest of one
//     object (created, or server-side applied when it exists) or KubernetesApplier.Delete with
//     {group, version, kind, name, namespace}. Each link may carry its own kubeconfig
//     (config_b64 or config_file) and default namespace; without one it uses the provider's.
//   - The Service applier, level-triggered: it watches the lattice's link definitions in the
//     LATTICEDATA_{L} bucket and the Services it manages, and converges the namespace so that every
//     wasmcloud:httpserver link whose listener a Service can reach has a Service named after the
//     lowercased actor id, selecting the host pods, with one TCP port (the listener's, by the
//     provider's own rule: httpserver.ListenAddress; loopback listeners and port 0 are refused and
//     logged), and no Service it manages outlives its link. It converges at start, after every change on either
//     side and on a periodic resync, so a restart or a missed event heals. Services without its
//     labels are never touched.
//
// The Service applier's loop:
//
//	KV watch (replay, then live) ──► links by key ─┐
//	Service informer (the namespace's Services) ───┼─► kick ─► reconcile: desired vs. current
//	resync ticker (live list of Services) ─────────┘            create │ update │ delete (ours only)
//	                                                            error: retry with backoff
//
// It imports lattice, its contract types (lattice/contracts/applier), the providers SDK and
// client-go; never host, dashboard, cmd or another provider.
package applier
