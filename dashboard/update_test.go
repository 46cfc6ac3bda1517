package dashboard_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// echoRevisions builds the echo actor once and signs it twice with the same keys, at revisions 1
// and 2: an update replaces one with the other.
func echoRevisions(t *testing.T) (rev1, rev2 latticetest.Actor) {
	t.Helper()
	module := latticetest.BuildWasm(t, "./actor/examples/echo")
	keys := hosttest.NewActorKeys(t)
	meta := lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}
	return keys.Sign(t, module, meta, 1), keys.Sign(t, module, meta, 2)
}

// updateFailure returns the reason of the host's actor_update_failed event for ref, from the
// event log.
func (e *env) updateFailure(ref string) string {
	e.t.Helper()
	return e.eventValue(lattice.EventActorUpdateFailed, "image_ref", ref, "reason")
}

func TestUpdateActor(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	rev1, rev2 := echoRevisions(t)
	other := latticetest.SignModule(t, rev1.Module, lattice.ActorMetadata{Name: "other"}, lattice.SignOptions{})

	status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": rev1.Path, "host_id": h.ID(), "count": 2})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	e.eventually(func(v dashboard.View) bool { a, ok := findActor(v, rev1.ID); return ok && a.Instances == 2 }, "actor runs")

	// Every host running it updates; the answer carries the new revision.
	status, res = e.send(http.MethodPost, "/api/actors/update", map[string]any{"actor_id": rev1.ID, "ref": rev2.Path})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "done", res.Status)
	require.Equal(t, lattice.EventActorUpdated, res.Event)
	require.Equal(t, h.ID(), res.HostID)
	require.NotNil(t, res.Revision)
	require.Equal(t, 2, *res.Revision)
	require.Contains(t, res.Message, "updated echo to "+rev2.Path+" on host ")
	require.Contains(t, res.Message, "(revision 2)")
	v := e.eventually(func(v dashboard.View) bool {
		a, ok := findActor(v, rev1.ID)
		return ok && len(a.Hosts) == 1 && a.Hosts[0].ImageRef == rev2.Path && a.Hosts[0].Revision == 2
	}, "the view shows the new reference and revision")
	a, _ := findActor(v, rev1.ID)
	require.Equal(t, 2, a.Instances, "the instances stay")

	// The host's refusals and failures are the answer, naming the reference.
	for _, tt := range []struct {
		name, ref, msg string
	}{
		{"unreachable registry", badRef, "could not update the actor"},
		{"another actor", other.Path, "an update keeps the actor's key"},
		{"an older revision", rev1.Path, "an update needs a higher revision"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, res := e.send(http.MethodPost, "/api/actors/update", map[string]any{"actor_id": rev1.ID, "ref": tt.ref})
			require.Equal(t, http.StatusUnprocessableEntity, status, "%+v", res)
			require.Equal(t, "ref", res.Field)
			require.Contains(t, res.Error, tt.msg)
			require.Contains(t, res.Error, e.updateFailure(tt.ref), "the host's error")
		})
	}

	// The module that runs already: nothing changes, and the answer says so.
	status, res = e.send(http.MethodPost, "/api/actors/update", map[string]any{"actor_id": rev1.ID, "ref": rev2.Path})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Contains(t, res.Message, "(runs revision 2 already)")

	// Nothing to update.
	notRunning := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	status, res = e.send(http.MethodPost, "/api/actors/update", map[string]any{"actor_id": notRunning, "ref": rev2.Path})
	require.Equal(t, http.StatusNotFound, status, "%+v", res)
	require.Equal(t, "host_id", res.Field)
	status, res = e.send(http.MethodPost, "/api/actors/update", map[string]any{"actor_id": notRunning, "ref": rev2.Path, "host_id": h.ID()})
	require.Equal(t, http.StatusConflict, status, "%+v", res)
	require.Contains(t, res.Error, "refused by the host")

	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no ref", map[string]any{"actor_id": rev1.ID}, "ref"},
		{"no actor", map[string]any{"ref": rev2.Path}, "actor_id"},
		{"a provider key", map[string]any{"actor_id": latticetest.Key(t, lattice.PrefixService).PublicKey(), "ref": rev2.Path}, "actor_id"},
		{"bad host", map[string]any{"actor_id": rev1.ID, "ref": rev2.Path, "host_id": "N1"}, "host_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, res := e.send(http.MethodPost, "/api/actors/update", tt.body)
			require.Equal(t, http.StatusBadRequest, status, "%+v", res)
			require.Equal(t, tt.field, res.Field)
		})
	}
}
