package lattice

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLinkWarnings(t *testing.T) {
	const actor, provider = "MACTOR", "VPROVIDER"
	claims := []map[string]string{
		{"sub": actor, "name": "echo", "caps": "wasmcloud:httpserver,wasmcloud:logging", "contract_id": ""},
		{"sub": provider, "name": "httpserver", "caps": "", "contract_id": "wasmcloud:httpserver"},
		{"sub": "MOTHER", "name": "other", "caps": "", "contract_id": ""},
	}
	link := func(contract string) LinkDefinition {
		return LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: contract}
	}

	require.Empty(t, LinkWarnings(claims, link("wasmcloud:httpserver")))
	require.Empty(t, LinkWarnings(nil, link("wasmcloud:keyvalue")), "no claims known, nothing to say")

	got := LinkWarnings(claims, link("wasmcloud:keyvalue"))
	require.Len(t, got, 2)
	require.Contains(t, got, "provider VPROVIDER (httpserver) implements wasmcloud:httpserver, not wasmcloud:keyvalue: no provider will serve this link")
	require.Contains(t, got, "actor MACTOR (echo) is not signed with the wasmcloud:keyvalue capability: hosts refuse calls over this link, either way")

	noCaps := []map[string]string{{"sub": actor, "name": "ponger", "caps": ""}}
	require.Len(t, LinkWarnings(noCaps, link("wasmcloud:httpserver")), 1)
}
