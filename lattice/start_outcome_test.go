package lattice

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartOutcome(t *testing.T) {
	const host, other, ref = "NHOST", "NOTHER", "reg.example:5000/echo:1.0.0"
	event := func(name, source string, data any) CloudEvent {
		e, err := NewEvent(name, source, data)
		require.NoError(t, err)
		return e
	}
	started := ActorStartedData{PublicKey: "MECHO", ImageRef: ref, Claims: map[string]any{"name": "echo"}}
	failed := ActorStartFailedData{ActorRef: ref, Error: "pull: manifest unknown"}

	o, ok := ActorStart(host, ref)(event(EventActorStarted, host, started))
	require.True(t, ok)
	require.Equal(t, StartOutcome{PublicKey: "MECHO", Name: "echo"}, o)
	o, ok = ActorStart(host, ref)(event(EventActorStartFailed, host, failed))
	require.True(t, ok)
	require.Equal(t, StartOutcome{Failed: true, Error: "pull: manifest unknown"}, o)
	for name, e := range map[string]CloudEvent{
		"another host":      event(EventActorStarted, other, started),
		"another reference": event(EventActorStarted, host, ActorStartedData{PublicKey: "MECHO", ImageRef: ref + "x"}),
		"another event":     event(EventActorStopped, host, ActorStoppedData{PublicKey: "MECHO"}),
		"a provider":        event(EventProviderStarted, host, ProviderStartedData{PublicKey: "VHTTP", ImageRef: ref}),
	} {
		require.False(t, ActorStart(host, ref).Match(e), name)
	}

	pStarted := ProviderStartedData{PublicKey: "VHTTP", ImageRef: ref, LinkName: "default", ContractID: "wasmcloud:httpserver", Claims: map[string]any{"name": "httpserver"}}
	o, ok = ProviderStart(host, ref, "")(event(EventProviderStarted, host, pStarted))
	require.True(t, ok, "an empty link name is the default one")
	require.Equal(t, StartOutcome{PublicKey: "VHTTP", Name: "httpserver", ContractID: "wasmcloud:httpserver"}, o)
	_, ok = ProviderStart(host, ref, "backup")(event(EventProviderStarted, host, pStarted))
	require.False(t, ok, "another link name")
	o, ok = ProviderStart(host, ref, "backup")(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, LinkName: "backup", Error: "bad"}))
	require.True(t, ok)
	require.Equal(t, StartOutcome{Failed: true, Error: "bad"}, o)
	_, ok = ProviderStart(host, ref, "backup")(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, LinkName: "default", Error: "bad"}))
	require.False(t, ok, "a failure for another link name")
	_, ok = ProviderStart(host, ref, "backup")(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, Error: "bad"}))
	require.True(t, ok, "a failure without a link name, as upstream hosts send it")
}
