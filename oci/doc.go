// Package oci is Trellis's OCI registry client: it pulls and pushes wasmCloud actors (signed wasm
// modules) and provider archives with wasmCloud's media types (PROTOCOL.md §8), over oras-go.
//
// It owns the client (Client, Config, NewClient), the artifact kinds and what a pull or push
// returns (Kind, Artifact, Progress), the choice of credentials (registries.put, configured ones,
// then a docker config and its credential helpers), the errors that name a reference and the
// reason, the :latest and plain-HTTP rules, and the on-disk cache of manifests and layers by
// digest. The parsing of references and the media types are lattice's (lattice.ParseOCIRef),
// since the CLI, the host and the dashboard share them.
//
// Of this project it imports lattice only; host and cmd use it, and it never logs but through
// the zerolog.Logger in its Config.
package oci
