package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// echoAppYAML is a manifest of the echo app at a version, as wadm's users write them.
func echoAppYAML(version string) string {
	return fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: echo-app
  annotations:
    version: %s
    description: Echo over HTTP
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: registry.example.com/echo:%s
      traits:
        - type: spreadscaler
          properties:
            replicas: 2
        - type: linkdef
          properties:
            target: httpserver
            values:
              ADDRESS: 0.0.0.0:8080
    - name: httpserver
      type: capability
      properties:
        image: registry.example.com/httpserver:0.1.0
        contract: wasmcloud:httpserver
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
`, version, strings.TrimPrefix(version, "v"))
}

// echoAppJSON is the same manifest in JSON.
func echoAppJSON(version string) string {
	return fmt.Sprintf(`{"apiVersion": "core.oam.dev/v1beta1", "kind": "Application",
  "metadata": {"name": "echo-app", "annotations": {"version": %q, "description": "Echo over HTTP"}},
  "spec": {"components": [
    {"name": "echo", "type": "actor", "properties": {"image": "registry.example.com/echo:%s"},
     "traits": [{"type": "spreadscaler", "properties": {"replicas": 2}},
                {"type": "linkdef", "properties": {"target": "httpserver", "values": {"ADDRESS": "0.0.0.0:8080"}}}]},
    {"name": "httpserver", "type": "capability",
     "properties": {"image": "registry.example.com/httpserver:0.1.0", "contract": "wasmcloud:httpserver"},
     "traits": [{"type": "spreadscaler", "properties": {"replicas": 1}}]}]}}`, version, strings.TrimPrefix(version, "v"))
}

// parseManifest parses a manifest of the test.
func parseManifest(t *testing.T, text string) *oam.Manifest {
	t.Helper()
	m, err := oam.Parse([]byte(text))
	require.NoError(t, err)
	return m
}

func findApp(v dashboard.View, name string) (dashboard.AppView, bool) {
	for _, a := range v.Applications.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return dashboard.AppView{}, false
}

// appIs polls the view until the app matches cond, and returns it.
func (e *env) appIs(name, what string, cond func(a dashboard.AppView) bool) dashboard.AppView {
	e.t.Helper()
	v := e.eventually(func(v dashboard.View) bool {
		a, ok := findApp(v, name)
		return ok && cond(a)
	}, "app "+name+": "+what)
	a, _ := findApp(v, name)
	return a
}

// echoStatus is a status the reconciler could write for the echo app.
func echoStatus(version string, state app.State, msg string, echoActual int) app.Status {
	now := time.Now().UTC()
	return app.Status{
		Name: "echo-app", Version: version, State: state, Message: msg,
		Components: []app.ComponentStatus{
			{Name: "echo", Type: "actor", Image: "registry.example.com/echo:0.1.0", Desired: 2, Actual: echoActual},
			{Name: "httpserver", Type: "capability", Image: "registry.example.com/httpserver:0.1.0", Desired: 1, Actual: 1},
		},
		Since: now.Add(-time.Minute), Updated: now,
	}
}

func TestAppsAPI(t *testing.T) {
	e := newEnv(t)
	store := e.appStore()
	ctx := context.Background()

	var apps dashboard.AppsView
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, e.get("/api/apps", &apps))
		return apps.Synced
	}, 10*time.Second, 20*time.Millisecond, "the dashboard reads the apps store")
	require.True(t, apps.Enabled)
	require.Empty(t, apps.Apps)
	require.Empty(t, apps.Reconciler, "no host holds the reconciler lease")

	// A manifest in YAML: stored and deployed, with a warning that nothing acts on it yet.
	status, res := e.sendAs(http.MethodPost, "/api/apps", "application/yaml", echoAppYAML("v0.1.0"))
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "done", res.Status)
	require.Equal(t, "echo-app", res.ID)
	require.Equal(t, "v0.1.0", res.Version)
	require.Equal(t, "stored version v0.1.0 of app echo-app and deployed it", res.Message)
	require.Len(t, res.Warnings, 1)
	require.Contains(t, res.Warnings[0], "no reconciler is running")

	a := e.appIs("echo-app", "deployed v0.1.0, waiting for the reconciler", func(a dashboard.AppView) bool { return a.Deployed == "v0.1.0" })
	require.Equal(t, "v0.1.0", a.Latest)
	require.Equal(t, "Echo over HTTP", a.Description)
	require.Equal(t, dashboard.AppPending, a.State, "no status yet")
	require.Nil(t, a.Status)
	require.Len(t, a.Versions, 1)
	require.False(t, a.Versions[0].PutAt.IsZero())

	// The reconciler's status shows with its components.
	require.NoError(t, store.PutStatus(ctx, echoStatus("v0.1.0", app.StateDeployed, "", 2)))
	a = e.appIs("echo-app", "deployed", func(a dashboard.AppView) bool { return a.State == string(app.StateDeployed) })
	require.Equal(t, "v0.1.0", a.Status.Version)
	require.Len(t, a.Status.Components, 2)
	require.Equal(t, 2, a.Status.Components[0].Actual)
	var one dashboard.AppView
	require.Equal(t, http.StatusOK, e.get("/api/apps/echo-app", &one))
	require.Equal(t, a, one)

	// A new version in JSON: deployed; the status is about the old one, so it is pending.
	status, res = e.sendAs(http.MethodPost, "/api/apps", "application/json; charset=utf-8", echoAppJSON("v0.2.0"))
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "v0.2.0", res.Version)
	a = e.appIs("echo-app", "deployed v0.2.0", func(a dashboard.AppView) bool { return a.Deployed == "v0.2.0" })
	require.Equal(t, dashboard.AppPending, a.State)
	require.Equal(t, "v0.2.0", a.Latest)
	require.Equal(t, []string{"v0.1.0", "v0.2.0"}, []string{a.Versions[0].Version, a.Versions[1].Version})

	// The same manifest again changes nothing.
	status, res = e.sendAs(http.MethodPost, "/api/apps", "application/json", echoAppJSON("v0.2.0"))
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "version v0.2.0 of app echo-app is stored and deployed already", res.Message)

	// A rollback is deploying the older version.
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/deploy", map[string]any{"version": "v0.1.0"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "rolled app echo-app back to version v0.1.0 (from v0.2.0)", res.Message)
	a = e.appIs("echo-app", "rolled back", func(a dashboard.AppView) bool { return a.Deployed == "v0.1.0" })
	require.Equal(t, string(app.StateDeployed), a.State, "the status is about v0.1.0 again")
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/deploy", map[string]any{"version": "v0.1.0"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "version v0.1.0 of app echo-app is deployed already", res.Message)

	// Versions and apps that do not exist: the store's message.
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/deploy", map[string]any{"version": "v9"})
	require.Equal(t, http.StatusNotFound, status, "%+v", res)
	require.Equal(t, "version", res.Field)
	require.Equal(t, "deploy app echo-app: version v9: not found (versions: v0.1.0, v0.2.0)", res.Error)
	status, res = e.send(http.MethodPost, "/api/apps/nope/deploy", map[string]any{"version": "v1"})
	require.Equal(t, http.StatusNotFound, status, "%+v", res)
	require.Equal(t, "app nope: not found", res.Error)
	status, res = e.send(http.MethodPost, "/api/apps/nope/undeploy", nil)
	require.Equal(t, http.StatusNotFound, status, "%+v", res)

	// Undeploy: the record says so at once, the state once the reconciler has removed it.
	status, res = e.sendAs(http.MethodPost, "/api/apps/echo-app/undeploy", "application/json", "")
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "undeployed app echo-app (was version v0.1.0)", res.Message)
	a = e.appIs("echo-app", "undeployed", func(a dashboard.AppView) bool { return a.Deployed == "" })
	require.Equal(t, dashboard.AppPending, a.State)
	require.NoError(t, store.PutStatus(ctx, echoStatus("", app.StateUndeployed, "", 0)))
	e.appIs("echo-app", "undeployed by the reconciler", func(a dashboard.AppView) bool { return a.State == string(app.StateUndeployed) })
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/undeploy", map[string]any{})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "app echo-app is not deployed", res.Message)

	// No version: the latest.
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/deploy", map[string]any{})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "v0.2.0", res.Version)

	// Once a host holds the reconciler lease, the view names it and the warning goes.
	holder := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	lease, err := app.OpenLease(ctx, e.js, lattice.DefaultLattice, holder, 10*time.Second, 1)
	require.NoError(t, err)
	held, err := lease.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	e.eventually(func(v dashboard.View) bool { return v.Applications.Reconciler == holder }, "the view names the reconciler")
	status, res = e.send(http.MethodPost, "/api/apps/echo-app/deploy", map[string]any{"version": "v0.1.0"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Empty(t, res.Warnings)
	require.NoError(t, lease.Release(ctx))
	e.eventually(func(v dashboard.View) bool { return v.Applications.Reconciler == "" }, "no reconciler once the lease is released")
}

func TestAppsBadRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.appStore().Put(ctx, parseManifest(t, echoAppYAML("v1")), "")
	require.NoError(t, err)
	// What oam says of a manifest is the answer.
	_, noName := oam.Parse([]byte(strings.Replace(echoAppYAML("v1"), "  name: echo-app\n", "", 1)))
	require.Error(t, noName)
	_, badYAML := oam.Parse([]byte("kind: [Application"))
	require.Error(t, badYAML)

	tests := []struct {
		name, path, ctype, body string
		status                  int
		field, msg              string
	}{
		{"no name", "/api/apps", "application/yaml", strings.Replace(echoAppYAML("v1"), "  name: echo-app\n", "", 1), 400, "", noName.Error()},
		{"YAML syntax", "/api/apps", "text/yaml", "kind: [Application", 400, "", badYAML.Error()},
		{"unknown field", "/api/apps", "application/yaml", echoAppYAML("v2") + "status: {}\n", 400, "", "status"},
		{"empty manifest", "/api/apps", "application/yaml", "  \n", 400, "", "request body: empty"},
		{"version exists with another manifest", "/api/apps", "application/yaml",
			strings.Replace(echoAppYAML("v1"), "replicas: 2", "replicas: 3", 1), 409, "", "version already exists with another manifest"},
		{"manifest as text", "/api/apps", "text/plain", echoAppYAML("v2"), 403, "Content-Type", `Content-Type "text/plain": a type any web page can send to another site, refused`},
		{"manifest without type", "/api/apps", "", echoAppYAML("v2"), 415, "", "Content-Type: missing"},
		{"deploy version type", "/api/apps/echo-app/deploy", "application/json", `{"version": 1}`, 400, "version", "want a string"},
		{"deploy unknown field", "/api/apps/echo-app/deploy", "application/json", `{"ver": "v1"}`, 400, "ver", "unknown field"},
		{"deploy without type", "/api/apps/echo-app/deploy", "", `{"version": "v1"}`, 415, "", "Content-Type: missing"},
		{"deploy as a form", "/api/apps/echo-app/deploy", "application/x-www-form-urlencoded", `version=v1`, 403, "Content-Type", "takes application/json"},
		{"undeploy without type", "/api/apps/echo-app/undeploy", "", "", 415, "", "Content-Type: missing"},
		{"bad app name", "/api/apps/echo.app/deploy", "application/json", `{}`, 400, "name", "only letters, digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := e.sendAs(http.MethodPost, tt.path, tt.ctype, tt.body)
			require.Equal(t, tt.status, status, "%+v", res)
			require.Equal(t, tt.field, res.Field, "%+v", res)
			require.Contains(t, res.Error, tt.msg)
		})
	}
	require.Equal(t, http.StatusNotFound, e.get("/api/apps/nope", nil))
	// Nothing of the refused requests was stored.
	r, err := e.appStore().Get(ctx, "echo-app")
	require.NoError(t, err)
	require.Len(t, r.Versions, 1)
	require.Empty(t, r.Deployed)
}

// TestAppsViewIsLive: what other clients and the reconciler write into the apps store, and the
// reconciler's app_status events, reach the page over the websocket within moments.
func TestAppsViewIsLive(t *testing.T) {
	e := newEnv(t)
	store := e.appStore()
	ctx := context.Background()
	ws := e.dialWS()
	first := ws.next(func(m dashboard.Message) bool { return m.Type == "view" })
	require.True(t, first.View.Applications.Enabled)

	// Moments, not the 30s refresh: the watch pushes every change.
	const live = 10 * time.Second
	appView := func(what string, cond func(a dashboard.AppView) bool) dashboard.AppView {
		t.Helper()
		m := ws.nextWithin(live, func(m dashboard.Message) bool {
			if m.Type != "view" {
				return false
			}
			a, ok := findApp(*m.View, "echo-app")
			return ok && cond(a)
		})
		a, _ := findApp(*m.View, "echo-app")
		t.Logf("view: %s", what)
		return a
	}

	// Another client (the CLI) puts and deploys.
	put, err := store.Put(ctx, parseManifest(t, echoAppYAML("v0.1.0")), "")
	require.NoError(t, err)
	_, err = store.Deploy(ctx, put.Name, put.Version)
	require.NoError(t, err)
	appView("deployed, pending", func(a dashboard.AppView) bool { return a.Deployed == "v0.1.0" && a.State == dashboard.AppPending })

	// The reconciler writes a status.
	require.NoError(t, store.PutStatus(ctx, echoStatus("v0.1.0", app.StateReconciling, "echo: 1 of 2 instances", 1)))
	a := appView("reconciling", func(a dashboard.AppView) bool { return a.State == string(app.StateReconciling) })
	require.Equal(t, "echo: 1 of 2 instances", a.Status.Message)
	require.Equal(t, 1, a.Status.Components[0].Actual)

	// Its app_status event alone moves the view as well.
	reconciler := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	st := echoStatus("v0.1.0", app.StateFailed, "pull registry.example.com/echo:0.1.0: unreachable", 1)
	ev, err := lattice.NewEvent(app.EventStatus, reconciler, st)
	require.NoError(t, err)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, e.nc.Publish(e.ctl.Subjects().Events(), raw))
	// The page gets the event for its log first, then the view it changed.
	ws.nextWithin(live, func(m dashboard.Message) bool { return m.Type == "event" && m.Event.Type == app.EventStatus })
	a = appView("failed, from the event", func(a dashboard.AppView) bool { return a.State == string(app.StateFailed) })
	require.Equal(t, "pull registry.example.com/echo:0.1.0: unreachable", a.Status.Message)

	// Deleting the app leaves its status (the reconciler removes what it started), then both go.
	require.NoError(t, store.Undeploy(ctx, "echo-app"))
	require.NoError(t, store.Delete(ctx, "echo-app", ""))
	a = appView("deleted, its status left", func(a dashboard.AppView) bool { return len(a.Versions) == 0 })
	require.NotNil(t, a.Status)
	require.NoError(t, store.DeleteStatus(ctx, "echo-app"))
	ws.nextWithin(live, func(m dashboard.Message) bool {
		if m.Type != "view" {
			return false
		}
		_, ok := findApp(*m.View, "echo-app")
		return !ok
	})
}
