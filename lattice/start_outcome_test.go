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
	started := ActorStartedData{PublicKey: "MECHO", ImageRef: ref, Claims: map[string]any{"name": "echo", "revision": 3}}
	failed := ActorStartFailedData{ActorRef: ref, Error: "pull: manifest unknown"}

	o, ok := ActorStart(host, ref)(event(EventActorStarted, host, started))
	require.True(t, ok)
	require.Equal(t, StartOutcome{PublicKey: "MECHO", Name: "echo", Revision: 3}, o)
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

func TestActorUpdateOutcome(t *testing.T) {
	const host, other, actor, ref = "NHOST", "NOTHER", "MECHO", "reg.example:5000/echo:2.0.0"
	event := func(name, source string, data any) CloudEvent {
		e, err := NewEvent(name, source, data)
		require.NoError(t, err)
		return e
	}
	updated := ActorUpdatedData{PublicKey: actor, Revision: 2, InstanceID: "i1", ImageRef: ref, PreviousRevision: 1}
	failed := ActorUpdateFailedData{PublicKey: actor, Revision: 1, ImageRef: ref, Reason: "not above revision 1"}

	for _, tt := range []struct {
		name string
		e    CloudEvent
		want StartOutcome
	}{
		{"updated", event(EventActorUpdated, host, updated), StartOutcome{PublicKey: actor, Revision: 2, PreviousRevision: 1}},
		{"failed", event(EventActorUpdateFailed, host, failed), StartOutcome{PublicKey: actor, Revision: 1, Failed: true, Error: "not above revision 1"}},
		{"upstream event without image_ref", event(EventActorUpdated, host, map[string]any{"public_key": actor, "revision": 3, "instance_id": "i1"}),
			StartOutcome{PublicKey: actor, Revision: 3}},
		{"older Trellis hosts' failure", event(EventActorStartFailed, host, ActorStartFailedData{ActorRef: ref, Error: "pull failed"}),
			StartOutcome{PublicKey: actor, Failed: true, Error: "pull failed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := ActorUpdate(host, actor, ref)(tt.e)
			require.True(t, ok)
			require.Equal(t, tt.want, o)
		})
	}
	for name, e := range map[string]CloudEvent{
		"another host":             event(EventActorUpdated, other, updated),
		"another actor":            event(EventActorUpdated, host, ActorUpdatedData{PublicKey: "MOTHER", ImageRef: ref}),
		"another reference":        event(EventActorUpdated, host, ActorUpdatedData{PublicKey: actor, ImageRef: ref + "x"}),
		"another failure":          event(EventActorUpdateFailed, host, ActorUpdateFailedData{PublicKey: actor, ImageRef: ref + "x"}),
		"a start":                  event(EventActorStarted, host, ActorStartedData{PublicKey: actor, ImageRef: ref}),
		"a start of another ref":   event(EventActorStartFailed, host, ActorStartFailedData{ActorRef: ref + "x"}),
		"a stop of the same actor": event(EventActorStopped, host, ActorStoppedData{PublicKey: actor}),
	} {
		require.False(t, ActorUpdate(host, actor, ref).Match(e), name)
	}
}
