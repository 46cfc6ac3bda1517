package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/app"
)

func TestAppState(t *testing.T) {
	st := func(version string, state app.State) *app.Status {
		return &app.Status{Name: "a", Version: version, State: state}
	}
	tests := []struct {
		name     string
		deployed string
		status   *app.Status
		want     string
	}{
		{"never deployed", "", nil, "undeployed"},
		{"deployed, no status yet", "v1", nil, AppPending},
		{"deployed", "v1", st("v1", app.StateDeployed), "deployed"},
		{"failed", "v1", st("v1", app.StateFailed), "failed"},
		{"reconciling", "v1", st("v1", app.StateReconciling), "reconciling"},
		{"status of the version before", "v2", st("v1", app.StateDeployed), AppPending},
		{"rolled back, status of the newer", "v1", st("v2", app.StateFailed), AppPending},
		{"undeployed, not yet removed", "", st("v1", app.StateDeployed), AppPending},
		{"undeployed", "", st("", app.StateUndeployed), "undeployed"},
		{"deployed again after an undeploy", "v1", st("", app.StateUndeployed), AppPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, appState(tt.deployed, tt.status))
		})
	}
}

func TestStatusNewer(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	st := func(reconciler string, updated time.Time) *app.Status {
		return &app.Status{Name: "a", Reconciler: reconciler, Updated: updated}
	}
	require.True(t, statusNewer(nil, st("N1", at)))
	require.True(t, statusNewer(st("N1", at), st("N1", at)), "the same status again (event, then watch)")
	require.True(t, statusNewer(st("N1", at), st("N1", at.Add(time.Second))))
	require.False(t, statusNewer(st("N1", at), st("N1", at.Add(-time.Second))), "an older status of the same reconciler")
	require.True(t, statusNewer(st("N1", at), st("N2", at.Add(-time.Hour))), "another reconciler's clock is not compared")
}

func TestAppsReplayDropsWhatWentMeanwhile(t *testing.T) {
	s, _ := testState(t)
	s.apps.enabled = true
	rec := func(name string) app.Change {
		return app.Change{Key: app.RecordKeyPrefix + name, Name: name, Record: &app.Record{Name: name, Versions: []app.Version{{Version: "v1"}}, Deployed: "v1"}}
	}
	status := func(name string, state app.State) app.Change {
		return app.Change{Key: app.StatusKeyPrefix + name, Name: name, Status: &app.Status{Name: name, Version: "v1", State: state}}
	}
	s.appsWatchStarted()
	for _, c := range []app.Change{rec("a"), status("a", app.StateDeployed), rec("b"), status("b", app.StateFailed), {Synced: true}} {
		s.appChange(c)
	}
	v := s.view().Applications
	require.True(t, v.Synced)
	require.Len(t, v.Apps, 2)
	require.Equal(t, "failed", v.Apps[1].State)

	// The watch fails and starts over; meanwhile b was deleted with its status.
	s.appsWatchStarted()
	for _, c := range []app.Change{rec("a"), status("a", app.StateReconciling), {Synced: true}} {
		s.appChange(c)
	}
	v = s.view().Applications
	require.Len(t, v.Apps, 1)
	require.Equal(t, "a", v.Apps[0].Name)
	require.Equal(t, "reconciling", v.Apps[0].State)

	// A deletion leaves what is left: here the status, while the reconciler removes the app.
	s.appChange(app.Change{Key: app.StatusKeyPrefix + "a", Name: "a", Status: &app.Status{Name: "a", State: app.StateUndeployed}})
	s.appChange(app.Change{Key: app.RecordKeyPrefix + "a", Name: "a", Deleted: true})
	v = s.view().Applications
	require.Len(t, v.Apps, 1)
	require.Empty(t, v.Apps[0].Versions)
	require.Equal(t, "undeployed", v.Apps[0].State)

	// An app_status event for an app the store does not have is not taken.
	host := hostKey(t)
	s.apply(event(t, app.EventStatus, host, app.Status{Name: "ghost", Version: "v1", State: app.StateDeployed}))
	s.apply(event(t, app.EventStatus, host, app.Status{Name: "a", State: app.StateReconciling, Reconciler: host}))
	v = s.view().Applications
	require.Len(t, v.Apps, 1)
	require.Equal(t, "reconciling", v.Apps[0].State)
}
