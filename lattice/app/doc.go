// Package app keeps a lattice's declarative applications in JetStream: every version of every
// manifest that was put, which version is deployed, the status the reconciler last saw, and the
// lease that picks the one reconciler acting for the lattice.
//
// Everything lives in two KV buckets per lattice: TRELLIS_APPS_{L} (one record per app under
// APP_{name}, with all its versions, and its status under STATUS_{name}) and TRELLIS_LEASE_{L}
// (the reconciler lease, whose entries expire after the bucket's max age). Records are changed
// with compare-and-set, so hosts, the CLI and the dashboard may write at once without losing an
// update.
//
// It imports lattice and lattice/oam of this project, nothing else: the reconciler, the CLI and
// the dashboard build on it.
package app
