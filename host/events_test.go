package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestEventsCarryTheProtocolFields(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.Labels = map[string]string{"role": "test"} })
	echo := echoActor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	started := l.Events.Wait(t, lattice.EventHostStarted, nil)
	require.Equal(t, map[string]any{"role": "test"}, started["labels"])
	require.Contains(t, started, "friendly_name")
	require.Contains(t, started, "version")
	require.Contains(t, started, "uptime_seconds")

	id := l.StartActor(h, echo.Path, 1)
	l.Events.Wait(t, lattice.EventActorStarted, nil)
	ev := l.Events.Find(lattice.EventActorStarted, nil)[0]
	require.Equal(t, "1.0", ev.SpecVersion)
	require.Equal(t, "com.wasmcloud.lattice.actor_started", ev.Type)
	require.Equal(t, h.ID(), ev.Source)
	require.Equal(t, "application/json", ev.DataContentType)
	_, err := time.Parse(time.RFC3339, ev.Time)
	require.NoError(t, err)
	require.NotEmpty(t, ev.ID)
	var d map[string]any
	require.NoError(t, ev.DecodeData(&d))
	for _, k := range []string{"public_key", "image_ref", "api_version", "instance_id", "annotations", "claims"} {
		require.Contains(t, d, k)
	}
	require.Equal(t, id, d["public_key"])
	require.Equal(t, echo.Path, d["image_ref"])
	require.Equal(t, "echo", d["claims"].(map[string]any)["name"])

	// Link put and delete.
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	require.NoError(t, l.Ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: id, ProviderID: provider, ContractID: "wasmcloud:httpserver", Values: map[string]string{"ADDRESS": "127.0.0.1:8080"}}))
	set := l.Events.Wait(t, lattice.EventLinkdefSet, nil)
	require.Equal(t, id, set["actor_id"])
	require.Equal(t, provider, set["provider_id"])
	require.Equal(t, "default", set["link_name"])
	require.Equal(t, "wasmcloud:httpserver", set["contract_id"])
	require.Equal(t, map[string]any{"ADDRESS": "127.0.0.1:8080"}, set["values"])
	require.Equal(t, lattice.LinkID(id, "wasmcloud:httpserver", "default"), set["id"])
	require.NoError(t, l.Ctl.DeleteLink(ctx, id, "wasmcloud:httpserver", ""))
	del := l.Events.Wait(t, lattice.EventLinkdefDeleted, nil)
	require.Equal(t, set["id"], del["id"])
	require.Equal(t, provider, del["provider_id"])

	// Heartbeat after a ping lists the actor with its count.
	_, err = l.Ctl.GetHosts(ctx)
	require.NoError(t, err)
	hb := l.Events.Wait(t, lattice.EventHostHeartbeat, func(d map[string]any) bool {
		actors, _ := d["actors"].(map[string]any)
		return actors[id] == float64(1)
	})
	for _, k := range []string{"actors", "providers", "labels", "friendly_name", "version", "uptime_seconds", "uptime_human"} {
		require.Contains(t, hb, k)
	}

	// Stop: actor_stopped with the instance id of the start.
	require.NoError(t, l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: id, HostID: h.ID()}))
	stopped := l.Events.Wait(t, lattice.EventActorStopped, nil)
	require.Equal(t, id, stopped["public_key"])
	require.Equal(t, d["instance_id"], stopped["instance_id"])
	require.Contains(t, stopped, "annotations")
	require.Eventually(t, func() bool {
		inv, err := l.Ctl.GetInventory(ctx, h.ID())
		return err == nil && len(inv.Actors) == 0
	}, 10*time.Second, 20*time.Millisecond)

	// Stopping an actor that is not there is refused in the ack.
	err = l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: id, HostID: h.ID()})
	require.ErrorContains(t, err, "not running on this host")
}

func TestLinksSurviveRestartOfHostAndNATS(t *testing.T) {
	dir := t.TempDir()
	ns := latticetest.RunNATSWithDir(t, dir, -1)
	l := hosttest.On(t, ns)
	h := l.StartHost()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: "wasmcloud:keyvalue", LinkName: "cache", Values: map[string]string{"URL": "redis://127.0.0.1:6379"}}))

	// The link is in the KV bucket.
	js := latticetest.JetStream(t, l.NC)
	store, err := lattice.OpenStore(ctx, js, "default", 1)
	require.NoError(t, err)
	stored, err := store.Link(ctx, actor, "wasmcloud:keyvalue", "cache")
	require.NoError(t, err)
	require.Equal(t, provider, stored.ProviderID)

	// Stop everything, then start NATS on the same store and a fresh host.
	h.Stop()
	ns.Shutdown()
	ns.WaitForShutdown()
	ns2 := latticetest.RunNATSWithDir(t, dir, -1)
	l2 := hosttest.On(t, ns2)
	l2.StartHost()
	links, err := l2.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1)
	require.Equal(t, actor, links[0].ActorID)
	require.Equal(t, provider, links[0].ProviderID)
	require.Equal(t, "cache", links[0].LinkName)
	require.Equal(t, "redis://127.0.0.1:6379", links[0].Values["URL"])
}
