package reconciler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

const (
	testActor    = "MDFTY4VXVSKK62WXEQ7NFMXD6HRSRKDUSSPNO5LZD3B5ENCRKAK4HMMC"
	testProvider = "VC5NHL7AV3G5HLSDOSVX5MVNIFCIAMNBVBLDXSKALHDNKTUV6ZZB2KFM"
)

func testManifest(t *testing.T) *oam.Manifest {
	m, err := oam.Parse([]byte(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: echo, annotations: {version: v1}}
spec:
  components:
    - name: echo
      type: actor
      properties: {image: reg/echo:1}
      traits:
        - {type: spreadscaler, properties: {replicas: 2}}
        - {type: linkdef, properties: {target: httpserver, values: {address: "0.0.0.0:8080"}}}
    - name: httpserver
      type: capability
      properties: {image: reg/httpserver:1, contract: wasmcloud:httpserver}
      traits:
        - {type: daemonscaler, properties: {replicas: 1}}
`))
	require.NoError(t, err)
	return m
}

func managedInstances(n int, spread string) []lattice.ActorInstance {
	out := make([]lattice.ActorInstance, n)
	for i := range out {
		out[i] = lattice.ActorInstance{InstanceID: string(rune('a' + i)), Annotations: annotations("echo", "echo", spread)}
	}
	return out
}

func kinds(acts []action) map[actionKind]int {
	out := map[actionKind]int{}
	for _, a := range acts {
		out[a.kind]++
	}
	return out
}

// TestLinkSurvivesItsActorsHost: when the only host running the actor is lost, the link the app
// put stays (its provider on another host keeps serving once the actor runs again); before, the
// reconciler took it for a link no longer declared and deleted it.
func TestLinkSurvivesItsActorsHost(t *testing.T) {
	link := lattice.LinkDefinition{ActorID: testActor, ProviderID: testProvider, ContractID: "wasmcloud:httpserver",
		Values: map[string]string{"address": "0.0.0.0:8080"}}
	link.Normalize()
	w := &world{
		hosts: []*hostState{{id: "NB", providers: []lattice.ProviderDescription{{ID: testProvider, ImageRef: "reg/httpserver:1",
			LinkName: "default", ContractID: "wasmcloud:httpserver", Annotations: annotations("echo", "httpserver", defaultSpread)}}}},
		links: map[string]lattice.LinkDefinition{link.ID: link},
	}
	prev := &app.Status{Name: "echo", Links: []app.LinkStatus{{ActorID: testActor, ProviderID: testProvider,
		ContractID: "wasmcloud:httpserver", LinkName: "default", Source: "echo", Target: "httpserver", Ready: true}}}
	p := &planner{w: w, mem: newInflight(time.Minute)}
	acts, st := p.plan("echo", testManifest(t), prev)
	k := kinds(acts)
	require.Zero(t, k[deleteLink], "the link stays")
	require.Equal(t, 1, k[startActor])
	require.Equal(t, app.StateReconciling, st.State)
	require.Len(t, st.Links, 1)
	require.Equal(t, testActor, st.Links[0].ActorID)
	require.True(t, st.Links[0].Ready)
}

// TestMoveStartsBeforeItStops: instances all on one host are evened out make-before-break: the
// start on the other host first, the stop only once it runs.
func TestMoveStartsBeforeItStops(t *testing.T) {
	prov := func(h string) []lattice.ProviderDescription {
		return []lattice.ProviderDescription{{ID: testProvider, ImageRef: "reg/httpserver:1", LinkName: "default",
			ContractID: "wasmcloud:httpserver", Annotations: annotations("echo", "httpserver", defaultSpread)}}
	}
	a := &hostState{id: "NA", providers: prov("NA"), actors: []lattice.ActorDescription{{ID: testActor, ImageRef: "reg/echo:1", Instances: managedInstances(2, defaultSpread)}}}
	b := &hostState{id: "NB", providers: prov("NB")}
	p := &planner{w: &world{hosts: []*hostState{a, b}}, mem: newInflight(time.Minute)}
	acts, _ := p.plan("echo", testManifest(t), nil)
	require.Equal(t, 1, kinds(acts)[startActor])
	require.Zero(t, kinds(acts)[stopActor], "no stop while the moved instance is not up")
	for _, act := range acts {
		if act.kind == startActor {
			require.Equal(t, "NB", act.host)
			p.mem.sent(act.key, act.current, act.count, act.image)
		}
	}
	// The start is in flight: still no stop.
	acts, _ = p.plan("echo", testManifest(t), nil)
	require.Zero(t, kinds(acts)[stopActor])
	require.Zero(t, kinds(acts)[startActor], "not started twice")
	// It runs: now the extra one on NA goes.
	b.actors = []lattice.ActorDescription{{ID: testActor, ImageRef: "reg/echo:1", Instances: managedInstances(1, defaultSpread)}}
	acts, st := p.plan("echo", testManifest(t), nil)
	require.Equal(t, 1, kinds(acts)[stopActor])
	for _, act := range acts {
		if act.kind == stopActor {
			require.Equal(t, "NA", act.host)
			require.Equal(t, 1, act.count)
		}
	}
	require.Equal(t, 2, st.Components[0].Actual, "both count while the extra one stops")
}
