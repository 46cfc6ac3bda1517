package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

func TestLinkWarnings(t *testing.T) {
	const actor, provider = "MACTOR", "VPROVIDER"
	claims := []map[string]string{
		{"sub": actor, "name": "echo", "caps": "wasmcloud:httpserver,wasmcloud:logging", "contract_id": ""},
		{"sub": provider, "name": "httpserver", "caps": "", "contract_id": "wasmcloud:httpserver"},
		{"sub": "MOTHER", "name": "other", "caps": "", "contract_id": ""},
	}
	link := func(contract string) lattice.LinkDefinition {
		return lattice.LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: contract}
	}

	require.Empty(t, linkWarnings(claims, link("wasmcloud:httpserver")))
	require.Empty(t, linkWarnings(nil, link("wasmcloud:keyvalue")), "no claims known, nothing to say")

	got := linkWarnings(claims, link("wasmcloud:keyvalue"))
	require.Len(t, got, 2)
	require.Contains(t, got, "provider VPROVIDER (httpserver) implements wasmcloud:httpserver, not wasmcloud:keyvalue: no provider will serve this link")
	require.Contains(t, got, "actor MACTOR (echo) is not signed with the wasmcloud:keyvalue capability: hosts refuse calls over this link, either way")

	noCaps := []map[string]string{{"sub": actor, "name": "ponger", "caps": ""}}
	require.Len(t, linkWarnings(noCaps, link("wasmcloud:httpserver")), 1)
}
