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

	o, ok := ActorStartOutcome(event(EventActorStarted, host, started), host, ref)
	require.True(t, ok)
	require.Equal(t, StartOutcome{PublicKey: "MECHO", Name: "echo"}, o)
	o, ok = ActorStartOutcome(event(EventActorStartFailed, host, failed), host, ref)
	require.True(t, ok)
	require.Equal(t, StartOutcome{Failed: true, Error: "pull: manifest unknown"}, o)
	for name, e := range map[string]CloudEvent{
		"another host":      event(EventActorStarted, other, started),
		"another reference": event(EventActorStarted, host, ActorStartedData{PublicKey: "MECHO", ImageRef: ref + "x"}),
		"another event":     event(EventActorStopped, host, ActorStoppedData{PublicKey: "MECHO"}),
		"a provider":        event(EventProviderStarted, host, ProviderStartedData{PublicKey: "VHTTP", ImageRef: ref}),
	} {
		_, ok := ActorStartOutcome(e, host, ref)
		require.False(t, ok, name)
	}

	pStarted := ProviderStartedData{PublicKey: "VHTTP", ImageRef: ref, LinkName: "default", ContractID: "wasmcloud:httpserver", Claims: map[string]any{"name": "httpserver"}}
	o, ok = ProviderStartOutcome(event(EventProviderStarted, host, pStarted), host, ref, "")
	require.True(t, ok, "an empty link name is the default one")
	require.Equal(t, StartOutcome{PublicKey: "VHTTP", Name: "httpserver", ContractID: "wasmcloud:httpserver"}, o)
	_, ok = ProviderStartOutcome(event(EventProviderStarted, host, pStarted), host, ref, "backup")
	require.False(t, ok, "another link name")
	o, ok = ProviderStartOutcome(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, LinkName: "backup", Error: "bad"}), host, ref, "backup")
	require.True(t, ok)
	require.Equal(t, StartOutcome{Failed: true, Error: "bad"}, o)
	_, ok = ProviderStartOutcome(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, LinkName: "default", Error: "bad"}), host, ref, "backup")
	require.False(t, ok, "a failure for another link name")
	_, ok = ProviderStartOutcome(event(EventProviderStartFailed, host, ProviderStartFailedData{ProviderRef: ref, Error: "bad"}), host, ref, "backup")
	require.True(t, ok, "a failure without a link name, as upstream hosts send it")
}
