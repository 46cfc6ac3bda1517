package dashboard

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// appsModel is what the dashboard knows of the lattice's apps: the records and statuses of the
// apps store (followed with a watch), statuses from app_status events, and the reconciler lease.
// It is part of state and guarded by state.mu.
type appsModel struct {
	enabled    bool // the dashboard has JetStream
	synced     bool // a watch replayed the store once
	watchErr   error
	leaseErr   error
	reconciler string // lease holder, "" when none
	records    map[string]*app.Record
	statuses   map[string]*app.Status
	// replayed holds the keys a (re)started watch has replayed, until it is synced: what it did
	// not replay was deleted meanwhile. nil when no replay runs.
	replayed map[string]bool
}

func newAppsModel() appsModel {
	return appsModel{records: map[string]*app.Record{}, statuses: map[string]*app.Status{}}
}

// appsWatchStarted notes that a watch of the apps store (re)starts its replay.
func (s *state) appsWatchStarted() {
	s.mu.Lock()
	s.apps.replayed = map[string]bool{}
	s.mu.Unlock()
}

// appChange applies one change of the apps store: a put or a deletion of one key (a deletion
// leaves the app's other key: a status outlives its record while the reconciler removes the app).
func (s *state) appChange(c app.Change) {
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.touch()
	}()
	m := &s.apps
	if c.Synced {
		if m.replayed != nil {
			for name := range m.records {
				if !m.replayed[app.RecordKeyPrefix+name] {
					delete(m.records, name)
				}
			}
			for name := range m.statuses {
				if !m.replayed[app.StatusKeyPrefix+name] {
					delete(m.statuses, name)
				}
			}
		}
		m.replayed, m.synced, m.watchErr = nil, true, nil
		return
	}
	switch {
	case c.Record != nil:
		m.records[c.Name] = c.Record
		m.mark(c.Key)
	case c.Status != nil:
		if statusNewer(m.statuses[c.Name], c.Status) {
			m.statuses[c.Name] = c.Status
		}
		m.mark(c.Key)
	case c.Deleted && strings.HasPrefix(c.Key, app.RecordKeyPrefix):
		delete(m.records, c.Name)
	case c.Deleted && strings.HasPrefix(c.Key, app.StatusKeyPrefix):
		delete(m.statuses, c.Name)
	}
}

func (m *appsModel) mark(key string) {
	if m.replayed != nil {
		m.replayed[key] = true
	}
}

// statusEvent applies the status an app_status event carries, for an app the store has.
// Callers hold state.mu.
func (m *appsModel) statusEvent(st *app.Status) {
	_, recorded := m.records[st.Name]
	cur, ok := m.statuses[st.Name]
	if (recorded || ok) && statusNewer(cur, st) { // without JetStream both are empty
		m.statuses[st.Name] = st
	}
}

// statusNewer reports whether st replaces cur: the event and the store's watch bring the same
// statuses in either order, so an older status of the same reconciler is dropped. Statuses of
// different reconcilers (a lease moved) are not compared: their clocks may differ.
func statusNewer(cur, st *app.Status) bool {
	return cur == nil || cur.Reconciler != st.Reconciler || !st.Updated.Before(cur.Updated)
}

// setAppsWatchError records why the apps store cannot be followed now (nil: it can).
func (s *state) setAppsWatchError(err error) {
	s.mu.Lock()
	s.apps.watchErr = err
	s.mu.Unlock()
	s.touch()
}

// setReconciler records the lease holder ("" when none) or the error of asking for it.
func (s *state) setReconciler(holder string, err error) {
	s.mu.Lock()
	m := &s.apps
	changed := m.reconciler != holder || (m.leaseErr == nil) != (err == nil) ||
		(err != nil && m.leaseErr.Error() != err.Error())
	if err == nil {
		m.reconciler = holder
	}
	m.leaseErr = err
	s.mu.Unlock()
	if changed {
		s.touch()
	}
}

// reconciler is the lease holder as last seen.
func (s *state) reconciler() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps.reconciler
}

// applications is the AppsView alone, for the apps API: the rest of the view is not built.
func (s *state) applications() AppsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appsView()
}

// appsView builds the AppsView. Callers hold mu.
func (s *state) appsView() AppsView {
	m := &s.apps
	v := AppsView{Enabled: m.enabled, Synced: m.synced, Reconciler: m.reconciler, Apps: []AppView{}}
	if err := errors.Join(m.watchErr, m.leaseErr); err != nil {
		v.Error = err.Error()
	}
	names := map[string]bool{}
	for n := range m.records {
		names[n] = true
	}
	for n := range m.statuses {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		v.Apps = append(v.Apps, appView(n, m.records[n], m.statuses[n]))
	}
	return v
}

// appView describes one app from its record (nil once deleted, while its status is left) and
// its status (nil before the reconciler's first report).
func appView(name string, r *app.Record, st *app.Status) AppView {
	av := AppView{Name: name, Versions: []AppVersionView{}}
	if r != nil {
		av.Owner, av.Deployed = r.Owner, r.Deployed
		for _, ver := range r.Versions {
			av.Versions = append(av.Versions, AppVersionView{Version: ver.Version, PutAt: ver.PutAt, DeployedAt: ver.DeployedAt})
		}
		if l := r.Latest(); l != nil {
			av.Latest = l.Version
		}
		if m := cmp.Or(r.DeployedManifest(), latestManifest(r)); m != nil {
			av.Description = m.Description()
		}
	}
	av.Status = st // never changed once stored: a new status replaces it
	av.State = appState(av.Deployed, st)
	return av
}

func latestManifest(r *app.Record) *oam.Manifest {
	if l := r.Latest(); l != nil {
		return l.Manifest
	}
	return nil
}

// appState is the reconciler's state when its status is about the deployed version, else
// pending (app.Behind); an undeployed app without a status is undeployed.
func appState(deployed string, st *app.Status) string {
	if _, behind := app.Behind(deployed, st); behind {
		return AppPending
	}
	if st == nil {
		return string(app.StateUndeployed)
	}
	return string(st.State)
}
