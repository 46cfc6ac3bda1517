package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

// clock is a settable time for the state's staleness rules.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testState(t *testing.T) (*state, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newState("default", time.Minute, 3*time.Minute)
	s.now = c.now
	return s, c
}

func hostKey(t *testing.T) string {
	t.Helper()
	kp, err := lattice.CreateKeyPair(lattice.PrefixServer)
	require.NoError(t, err)
	return kp.PublicKey()
}

func event(t *testing.T, name, source string, data any) lattice.CloudEvent {
	t.Helper()
	ev, err := lattice.NewEvent(name, source, data)
	require.NoError(t, err)
	return ev
}

func TestHostGoesStaleThenAway(t *testing.T) {
	s, c := testState(t)
	h := hostKey(t)
	f := s.apply(event(t, lattice.EventHostHeartbeat, h, lattice.HostHeartbeatData{
		FriendlyName: "quiet-pond", Version: "0.1.0", UptimeSeconds: 100, Labels: map[string]string{"zone": "a"},
	}))
	require.Equal(t, h, f.inventory, "a heartbeat without a known inventory asks for it")

	v := s.view()
	require.Len(t, v.Hosts, 1)
	require.Equal(t, "quiet-pond", v.Hosts[0].FriendlyName)
	require.False(t, v.Hosts[0].Stale)

	c.advance(30 * time.Second)
	s.sweep()
	v = s.view()
	require.False(t, v.Hosts[0].Stale)
	require.EqualValues(t, 130, v.Hosts[0].UptimeSeconds, "uptime advances between heartbeats")
	require.EqualValues(t, 30, v.Hosts[0].SilentSeconds)

	c.advance(31 * time.Second)
	s.sweep()
	require.True(t, s.view().Hosts[0].Stale, "silent past the host timeout: stale")

	s.apply(event(t, lattice.EventHostHeartbeat, h, lattice.HostHeartbeatData{FriendlyName: "quiet-pond"}))
	require.False(t, s.view().Hosts[0].Stale, "a heartbeat revives it")

	c.advance(3*time.Minute + time.Second)
	s.sweep()
	require.Empty(t, s.view().Hosts, "silent past remove-after: gone")
}

func TestHostStoppedRemovesAtOnceAndStaysAway(t *testing.T) {
	s, c := testState(t)
	h := hostKey(t)
	s.setHosts([]lattice.Host{{ID: h, FriendlyName: "a"}})
	s.setInventory(&lattice.HostInventory{HostID: h, Actors: []lattice.ActorDescription{{ID: "M1", Instances: []lattice.ActorInstance{{}}}}})
	require.Len(t, s.view().Actors, 1)

	s.apply(event(t, lattice.EventHostStopped, h, lattice.HostStoppedData{}))
	require.Empty(t, s.view().Hosts)
	require.Empty(t, s.view().Actors)

	// A refresh that was under way when the host stopped must not bring it back.
	s.setHosts([]lattice.Host{{ID: h}})
	s.setInventory(&lattice.HostInventory{HostID: h})
	require.Empty(t, s.view().Hosts)

	// Until it starts again.
	c.advance(time.Second)
	s.apply(event(t, lattice.EventHostStarted, h, lattice.HostStartedData{FriendlyName: "a"}))
	require.Len(t, s.view().Hosts, 1)
}

func TestEventFollowUps(t *testing.T) {
	s, _ := testState(t)
	h := hostKey(t)
	s.setHosts([]lattice.Host{{ID: h}})
	tests := []struct {
		name string
		data any
		want followUp
	}{
		{lattice.EventActorStarted, lattice.ActorStartedData{PublicKey: "M"}, followUp{inventory: h, claims: true}},
		{lattice.EventActorStopped, lattice.ActorStoppedData{PublicKey: "M"}, followUp{inventory: h}},
		{lattice.EventProviderStarted, lattice.ProviderStartedData{PublicKey: "V"}, followUp{inventory: h, claims: true}},
		{lattice.EventProviderStopped, lattice.ProviderStoppedData{PublicKey: "V"}, followUp{inventory: h}},
		{lattice.EventHealthCheckPassed, lattice.HealthCheckData{PublicKey: "V"}, followUp{inventory: h}},
		{lattice.EventLinkdefSet, lattice.LinkdefData{}, followUp{links: true}},
		{lattice.EventLinkdefRejected, lattice.LinkdefData{Reason: "unsigned"}, followUp{links: true}},
		{lattice.EventActorStartFailed, lattice.ActorStartFailedData{}, followUp{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, s.apply(event(t, tt.name, h, tt.data)))
		})
	}
	t.Run("unknown host", func(t *testing.T) {
		f := s.apply(event(t, lattice.EventActorStarted, hostKey(t), lattice.ActorStartedData{}))
		require.True(t, f.hosts, "an event from a host never seen asks every host")
	})
}

func TestHeartbeatMatchingInventoryAsksNothing(t *testing.T) {
	s, _ := testState(t)
	h := hostKey(t)
	s.setInventory(&lattice.HostInventory{HostID: h,
		Actors:    []lattice.ActorDescription{{ID: "M1", Instances: []lattice.ActorInstance{{}, {}}}},
		Providers: []lattice.ProviderDescription{{ID: "V1", LinkName: "default"}},
	})
	same := lattice.HostHeartbeatData{Actors: map[string]int{"M1": 2}, Providers: []lattice.HeartbeatProvider{{PublicKey: "V1", LinkName: "default"}}}
	require.Empty(t, s.apply(event(t, lattice.EventHostHeartbeat, h, same)).inventory)
	scaled := lattice.HostHeartbeatData{Actors: map[string]int{"M1": 3}, Providers: same.Providers}
	require.Equal(t, h, s.apply(event(t, lattice.EventHostHeartbeat, h, scaled)).inventory)
}

func TestViewJoinsInventoriesAndClaims(t *testing.T) {
	s, _ := testState(t)
	h1, h2 := hostKey(t), hostKey(t)
	if h2 < h1 {
		h1, h2 = h2, h1
	}
	s.setHosts([]lattice.Host{{ID: h1, FriendlyName: "b-host"}, {ID: h2, FriendlyName: "a-host"}})
	s.setClaims([]map[string]string{
		{"sub": "MECHO", "name": "echo", "caps": "wasmcloud:httpserver,wasmcloud:keyvalue", "iss": "AISS"},
		{"sub": "VHTTP", "name": "httpserver", "contract_id": "wasmcloud:httpserver"},
	})
	s.setInventory(&lattice.HostInventory{HostID: h1,
		Actors: []lattice.ActorDescription{{ID: "MECHO", ImageRef: "/a/echo.wasm", Instances: []lattice.ActorInstance{{Revision: 2}}}},
		Providers: []lattice.ProviderDescription{
			{ID: "VHTTP", LinkName: "default", ContractID: "wasmcloud:httpserver", Name: "httpserver", State: "running", Health: "healthy"},
			{ID: "VHTTP", LinkName: "other", State: "restarting", Restarts: 2},
		}})
	s.setInventory(&lattice.HostInventory{HostID: h2,
		Actors: []lattice.ActorDescription{{ID: "MECHO", Name: "echo", ImageRef: "/b/echo.wasm", Instances: []lattice.ActorInstance{{}, {}, {}}}},
		Providers: []lattice.ProviderDescription{
			{ID: "VHTTP", LinkName: "default", ContractID: "wasmcloud:httpserver"}, // not a Trellis host: no state
		}})
	s.apply(event(t, lattice.EventHealthCheckFailed, h2, lattice.HealthCheckData{PublicKey: "VHTTP", LinkName: "default"}))
	s.setLinks([]lattice.LinkDefinition{
		{ActorID: "MECHO", ProviderID: "VHTTP", ContractID: "wasmcloud:httpserver", LinkName: "default", Values: map[string]string{"ADDRESS": "x"}, Status: "signed"},
		{ActorID: "MECHO", ProviderID: "VKV", ContractID: "wasmcloud:keyvalue", Status: "rejected: not signed by a trusted issuer"},
		{ActorID: "MOTHER", ProviderID: "VKV", ContractID: "wasmcloud:keyvalue", JWT: "x.y.z"},
	})

	v := s.view()
	require.Equal(t, []string{"a-host", "b-host"}, []string{v.Hosts[0].FriendlyName, v.Hosts[1].FriendlyName})
	require.Equal(t, 1, v.Hosts[0].Actors)
	require.Equal(t, 3, v.Hosts[0].Instances)

	require.Len(t, v.Actors, 1)
	a := v.Actors[0]
	require.Equal(t, "echo", a.Name, "the name comes from the claims when the inventory has none")
	require.Equal(t, []string{"wasmcloud:httpserver", "wasmcloud:keyvalue"}, a.Caps)
	require.Equal(t, 4, a.Instances)
	require.Equal(t, []ActorPlacement{
		{HostID: h1, ImageRef: "/a/echo.wasm", Instances: 1, Revision: 2},
		{HostID: h2, ImageRef: "/b/echo.wasm", Instances: 3},
	}, a.Hosts)

	status := map[string]string{}
	for _, p := range v.Providers {
		status[p.HostID[:4]+"/"+p.LinkName] = p.Status
		require.Equal(t, "httpserver", p.Name)
		require.Equal(t, "wasmcloud:httpserver", p.ContractID, "the contract comes from the claims when the inventory has none")
	}
	require.Equal(t, map[string]string{
		h1[:4] + "/default": ProviderHealthy,
		h1[:4] + "/other":   ProviderRestarting,
		h2[:4] + "/default": ProviderUnhealthy,
	}, status)

	require.Len(t, v.Links, 3)
	byActor := map[string]LinkView{}
	for _, l := range v.Links {
		byActor[l.ActorID+l.ContractID] = l
		require.Equal(t, lattice.LinkID(l.ActorID, l.ContractID, l.LinkName), l.ID)
	}
	require.Equal(t, LinkSigned, byActor["MECHOwasmcloud:httpserver"].Status)
	require.True(t, byActor["MECHOwasmcloud:httpserver"].Signed)
	require.Equal(t, LinkRejected, byActor["MECHOwasmcloud:keyvalue"].Status)
	require.Equal(t, "not signed by a trusted issuer", byActor["MECHOwasmcloud:keyvalue"].Reason)
	require.Equal(t, LinkSigned, byActor["MOTHERwasmcloud:keyvalue"].Status, "no status from the host: the JWT tells")
}

func TestProviderStatus(t *testing.T) {
	for _, tt := range []struct{ state, health, want string }{
		{"running", "", ProviderAwaiting},
		{"running", "healthy", ProviderHealthy},
		{"running", "unhealthy", ProviderUnhealthy},
		{"restarting", "healthy", ProviderRestarting},
		{"starting", "", ProviderStarting},
		{"stopping", "healthy", ProviderStopping},
		{"", "", ProviderAwaiting},
	} {
		require.Equal(t, tt.want, providerStatus(tt.state, tt.health), "%s/%s", tt.state, tt.health)
	}
}

func TestEventLogKeepsTheLatest(t *testing.T) {
	l := newEventLog(3)
	for i := range 5 {
		l.add(Event{ID: fmt.Sprint(i)})
	}
	var ids []string
	for _, e := range l.list() {
		ids = append(ids, e.ID)
	}
	require.Equal(t, []string{"2", "3", "4"}, ids)
	require.Empty(t, newEventLog(3).list())
}

func TestConfigValidate(t *testing.T) {
	require.ErrorContains(t, Config{}.Validate(), "client: required")
	require.ErrorContains(t, Config{HostTimeout: time.Minute, HostRemoveAfter: time.Second}.Validate(), "must not be shorter than host timeout")
	require.ErrorContains(t, Config{RefreshInterval: -time.Second}.Validate(), "refresh interval -1s: must be positive")
}
