package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// appLattice is a real NATS server with JetStream and a client of it, standing for what the
// hosts' reconciler would read and write.
type appLattice struct {
	url string
	js  jetstream.JetStream
}

func startAppLattice(t *testing.T) *appLattice {
	t.Helper()
	useTempKeys(t)
	ns := latticetest.RunNATS(t)
	return &appLattice{url: ns.ClientURL(), js: latticetest.JetStream(t, latticetest.Connect(t, ns))}
}

// app runs `trellis app ARGS… --nats-url URL` and returns exit code, stdout and stderr.
func (l *appLattice) app(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, context.Background(), append(append([]string{"app"}, args...), "--nats-url", l.url)...)
}

// ok runs an app command that must succeed and returns its stdout.
func (l *appLattice) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := l.app(t, args...)
	require.Equal(t, 0, code, "trellis app %s: stderr: %s", strings.Join(args, " "), errOut)
	return out
}

// fails runs an app command that must fail and returns its stderr.
func (l *appLattice) fails(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := l.app(t, args...)
	require.Equal(t, 1, code, "trellis app %s should fail: stdout: %s", strings.Join(args, " "), out)
	return errOut
}

func (l *appLattice) store(t *testing.T) *app.Store {
	t.Helper()
	st, err := app.OpenStore(context.Background(), l.js, lattice.DefaultLattice, 1)
	require.NoError(t, err)
	return st
}

// start runs an app command in the background; the returned function waits for its exit code.
func (l *appLattice) start(t *testing.T, ctx context.Context, args ...string) (*latticetest.SyncBuffer, *latticetest.SyncBuffer, func() int) {
	t.Helper()
	var stdout, stderr latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(append([]string{"app"}, args...), "--nats-url", l.url), &stdout, &stderr)
	}()
	return &stdout, &stderr, func() int {
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatalf("trellis app %s did not end; stdout: %s; stderr: %s", strings.Join(args, " "), stdout.String(), stderr.String())
			return -1
		}
	}
}

// testManifest is an app like examples/echo.yaml: an actor with two replicas linked to an HTTP
// server provider. extra is appended to the description, to make another manifest of the same
// version.
func testManifest(name, version, extra string) string {
	return fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: %s
  annotations:
    version: %s
    description: "Echo over HTTP%s"
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: 127.0.0.1:5000/echo:0.3.4
      traits:
        - type: spreadscaler
          properties:
            replicas: 2
        - type: linkdef
          properties:
            target: httpserver
            values:
              ADDRESS: 127.0.0.1:8080
    - name: httpserver
      type: capability
      properties:
        image: 127.0.0.1:5000/httpserver:0.1.0
        contract: wasmcloud:httpserver
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
`, name, version, extra)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestAppRoundTrip(t *testing.T) {
	l := startAppLattice(t)
	v1 := writeFile(t, "echo.yaml", testManifest("echo", "v1", ""))
	v2 := writeFile(t, "echo.yaml", testManifest("echo", "v2", ""))

	require.Equal(t, "No apps.\n", l.ok(t, "list"))
	require.Equal(t, "Put app echo version v1\n", l.ok(t, "put", v1))
	require.Contains(t, l.ok(t, "put", v1), "App echo version v1 unchanged")
	errOut := l.fails(t, "put", writeFile(t, "other.yaml", testManifest("echo", "v1", " and more")))
	require.Contains(t, errOut, "put app echo version v1: version already exists with another manifest")
	require.Contains(t, l.ok(t, "put", v2), "Put app echo version v2")

	out := l.ok(t, "list")
	require.Regexp(t, `NAME\s+DEPLOYED\s+LATEST\s+STATUS\s+MESSAGE`, out)
	require.Regexp(t, `echo\s+-\s+v2\s+undeployed\s+-`, out)

	require.Equal(t, "Deployed app echo version v1\n", l.ok(t, "deploy", "echo", "v1"))
	require.Equal(t, "App echo version v1 was deployed already\n", l.ok(t, "deploy", "echo", "v1"))
	out = l.ok(t, "list")
	require.Regexp(t, `echo\s+v1\s+v2\s+reconciling\s+waiting for a reconciler`, out)
	require.Contains(t, out, "Warning: no reconciler is running: no host holds the lease")

	// get: the deployed version by default, as YAML that reads back as the same manifest.
	out = l.ok(t, "get", "echo")
	got, err := oam.Parse([]byte(out))
	require.NoError(t, err, out)
	require.Equal(t, "v1", got.Version())
	require.Equal(t, mustParse(t, testManifest("echo", "v1", "")), got)
	require.Contains(t, out, "apiVersion: core.oam.dev/v1beta1\nkind: Application\n")
	got, err = oam.Parse([]byte(l.ok(t, "get", "echo", "v2")))
	require.NoError(t, err)
	require.Equal(t, "v2", got.Version())
	require.Contains(t, l.fails(t, "get", "echo", "v9"), "app echo: version v9: not found (versions: v1, v2)")
	require.Contains(t, l.fails(t, "get", "nope"), `app nope: not found on lattice "default" (apps: echo)`)

	out = l.ok(t, "history", "echo")
	require.Regexp(t, `VERSION\s+PUT AT\s+DEPLOYED`, out)
	require.Regexp(t, `v1\s+\d{4}-\d\d-\d\dT\S+Z\s+\* since \d{4}-`, out)
	require.Regexp(t, `v2\s+\d{4}-\d\d-\d\dT\S+Z\s+-`, out)

	require.Equal(t, "Deployed app echo version v2 (was v1)\n", l.ok(t, "deploy", "echo"))
	out = l.ok(t, "history", "echo")
	require.Regexp(t, `v1\s+\S+\s+last \d{4}-`, out)
	require.Regexp(t, `v2\s+\S+\s+\* since `, out)

	// What is deployed cannot be deleted; an unknown version names the versions there are.
	require.Contains(t, l.fails(t, "del", "echo", "v2"), "delete app echo: version v2 is deployed: undeploy it or deploy another version first")
	require.Contains(t, l.fails(t, "del", "echo"), "delete app echo: version v2 is deployed: undeploy it first")
	require.Contains(t, l.fails(t, "del", "echo", "v7"), "delete app echo: version v7: not found (versions: v1, v2)")
	require.Equal(t, "Deleted version v1 of app echo\n", l.ok(t, "del", "echo", "v1"))
	out = l.ok(t, "history", "echo")
	require.NotContains(t, out, "v1")
	require.Contains(t, out, "v2")

	require.Equal(t, "Undeployed app echo (was version v2)\n", l.ok(t, "undeploy", "echo"))
	require.Equal(t, "App echo was not deployed\n", l.ok(t, "undeploy", "echo"))
	require.Contains(t, l.ok(t, "history", "echo"), "App echo is not deployed.")
	require.Regexp(t, `echo\s+-\s+v2\s+undeployed`, l.ok(t, "list"))
	// get falls back to the latest version when none is deployed.
	got, err = oam.Parse([]byte(l.ok(t, "get", "echo")))
	require.NoError(t, err)
	require.Equal(t, "v2", got.Version())

	require.Equal(t, "Deleted app echo (every version)\n", l.ok(t, "del", "echo"))
	require.Equal(t, "No apps.\n", l.ok(t, "list"))
	require.Contains(t, l.fails(t, "get", "echo"), `app echo: not found on lattice "default" (no apps)`)
	require.Contains(t, l.fails(t, "undeploy", "echo"), "app echo: not found")
	require.Contains(t, l.fails(t, "deploy", "echo"), "app echo: not found")
}

func TestAppDeployFile(t *testing.T) {
	l := startAppLattice(t)
	v1 := writeFile(t, "echo.yaml", testManifest("echo", "v1", ""))
	out := l.ok(t, "deploy", v1)
	require.Equal(t, "Put app echo version v1\nDeployed app echo version v1\n", out)
	require.Contains(t, l.ok(t, "deploy", v1), "App echo version v1 unchanged")
	require.Contains(t, l.fails(t, "deploy", v1, "v1"), "a manifest file deploys its own version")
	require.Contains(t, l.fails(t, "deploy", "missing.yaml"), "read manifest: open missing.yaml")

	// A file without a YAML or JSON extension is a manifest when it exists.
	plain := writeFile(t, "echo-manifest", testManifest("echo", "v2", ""))
	require.Contains(t, l.ok(t, "deploy", plain), "Deployed app echo version v2 (was v1)")

	// - reads stdin, for put and deploy.
	withStdin(t, testManifest("echo", "v3", ""))
	require.Equal(t, "Put app echo version v3\n", l.ok(t, "put", "-"))
	withStdin(t, testManifest("echo", "v4", ""))
	require.Contains(t, l.ok(t, "deploy", "-"), "Deployed app echo version v4 (was v2)")

	// An app a Helm release's hosts put is the user's once the user puts it, with a warning.
	_, err := l.store(t).Put(context.Background(), mustParse(t, testManifest("managed", "v1", "")), "helm/demo")
	require.NoError(t, err)
	code, out, errOut := l.app(t, "deploy", writeFile(t, "managed.yaml", testManifest("managed", "v2", "")))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Deployed app managed version v2")
	require.Contains(t, errOut, "Warning: app managed was put by helm/demo, which puts and deploys its own version again when its hosts start")
	rec, err := l.store(t).Get(context.Background(), "managed")
	require.NoError(t, err)
	require.Empty(t, rec.Owner)

	// A manifest without a version annotation gets a generated one.
	noVersion := strings.Replace(testManifest("other", "x", ""), "    version: x\n", "", 1)
	out = l.ok(t, "put", writeFile(t, "other.json.yaml", noVersion), "-o", "json")
	var put app.PutResult
	require.NoError(t, json.Unmarshal([]byte(out), &put))
	require.Equal(t, "other", put.Name)
	require.Len(t, put.Version, 26, "a ULID")
	require.True(t, put.Created)
}

// withStdin makes content the process's stdin until the test ends.
func withStdin(t *testing.T, content string) {
	t.Helper()
	f := writeFile(t, "stdin", content)
	in, err := os.Open(f)
	require.NoError(t, err)
	old := os.Stdin
	os.Stdin = in
	t.Cleanup(func() {
		os.Stdin = old
		_ = in.Close()
	})
}

func TestAppInvalidManifest(t *testing.T) {
	l := startAppLattice(t)
	for _, tc := range []struct {
		name     string
		manifest string
		want     []string
	}{
		{"not yaml", "apiVersion: [\n", []string{"bad.yaml: "}},
		{"wrong kind", strings.Replace(testManifest("echo", "v1", ""), "kind: Application", "kind: Deployment", 1),
			[]string{"bad.yaml: ", "kind", "line 2"}},
		{"no name", strings.Replace(testManifest("echo", "v1", ""), "  name: echo\n", "", 1),
			[]string{"bad.yaml: ", "name"}},
		{"bad replicas", strings.Replace(testManifest("echo", "v1", ""), "replicas: 2", "replicas: many", 1),
			[]string{"bad.yaml: ", "replicas", "line 17"}},
		{"two problems", strings.Replace(strings.Replace(testManifest("echo", "v1", ""), "kind: Application", "kind: Deployment", 1), "target: httpserver", "target: nowhere", 1),
			[]string{"bad.yaml: 2 problems:\n  kind (line 2): ", "\n  spec.components[0].traits[1].properties.target (line 20): "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := writeFile(t, "bad.yaml", tc.manifest)
			for _, verb := range []string{"put", "deploy"} {
				errOut := l.fails(t, verb, bad)
				for _, w := range tc.want {
					require.Contains(t, errOut, w)
				}
			}
		})
	}
	// Nothing was stored: the lattice has no apps store even.
	require.Equal(t, "No apps.\n", l.ok(t, "list"))
	_, err := l.js.KeyValue(context.Background(), app.BucketName(lattice.DefaultLattice))
	require.ErrorIs(t, err, jetstream.ErrBucketNotFound)
}

func TestAppJSON(t *testing.T) {
	l := startAppLattice(t)
	v1 := writeFile(t, "echo.yaml", testManifest("echo", "v1", ""))

	var put app.PutResult
	decode(t, l.ok(t, "put", v1, "-o", "json"), &put)
	require.Equal(t, app.PutResult{Name: "echo", Version: "v1", Created: true}, put)

	var deployed map[string]any
	decode(t, l.ok(t, "deploy", "echo", "-o", "json"), &deployed)
	require.Equal(t, map[string]any{"name": "echo", "version": "v1", "changed": true, "waited": false}, deployed)
	decode(t, l.ok(t, "deploy", v1, "-o", "json"), &deployed)
	require.Equal(t, map[string]any{"name": "echo", "version": "v1", "changed": false, "waited": false,
		"put": map[string]any{"name": "echo", "version": "v1", "created": false}}, deployed)

	var list struct {
		Apps []struct {
			app.Record
			Status *app.Status `json:"status"`
		} `json:"apps"`
	}
	decode(t, l.ok(t, "list", "-o", "json"), &list)
	require.Len(t, list.Apps, 1)
	require.Equal(t, "echo", list.Apps[0].Name)
	require.Equal(t, "v1", list.Apps[0].Deployed)
	require.Len(t, list.Apps[0].Versions, 1)
	require.Equal(t, "v1", list.Apps[0].Versions[0].Manifest.Version())
	require.Nil(t, list.Apps[0].Status)
	require.Contains(t, l.ok(t, "list", "-o", "json"), `"status": null`)

	var m oam.Manifest
	decode(t, l.ok(t, "get", "echo", "-o", "json"), &m)
	require.Equal(t, "echo", m.Metadata.Name)
	require.Equal(t, oam.APIVersion, m.APIVersion)
	require.Len(t, m.Spec.Components, 2)

	var rec app.Record
	decode(t, l.ok(t, "history", "echo", "-o", "json"), &rec)
	require.Equal(t, "v1", rec.Deployed)
	require.Len(t, rec.Versions, 1)
	require.False(t, rec.Versions[0].PutAt.IsZero())
	require.False(t, rec.Versions[0].DeployedAt.IsZero())

	var status map[string]any
	decode(t, l.ok(t, "status", "echo", "-o", "json"), &status)
	require.Equal(t, map[string]any{"name": "echo", "deployed": "v1", "status": nil, "reconciler_lease": nil}, status)

	var undeployed map[string]any
	decode(t, l.ok(t, "undeploy", "echo", "-o", "json"), &undeployed)
	require.Equal(t, map[string]any{"name": "echo", "version": "v1", "changed": true, "waited": false}, undeployed)

	var del map[string]any
	decode(t, l.ok(t, "del", "echo", "v1", "-o", "json"), &del)
	require.Equal(t, map[string]any{"name": "echo", "version": "v1", "deleted": true}, del)
	decode(t, l.ok(t, "list", "-o", "json"), &list)
	require.Empty(t, list.Apps)
}

func mustParse(t *testing.T, manifest string) *oam.Manifest {
	t.Helper()
	m, err := oam.Parse([]byte(manifest))
	require.NoError(t, err)
	return m
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(out), v), out)
}

func TestAppStatus(t *testing.T) {
	l := startAppLattice(t)
	ctx := context.Background()
	l.ok(t, "deploy", writeFile(t, "echo.yaml", testManifest("echo", "v1", "")))

	out := l.ok(t, "status", "echo")
	require.Contains(t, out, "App:         echo\nDeployed:    v1\nState:       reconciling\nMessage:     waiting for a reconciler\n")
	require.Contains(t, out, "Reconciler:  none: no reconciler is running: no host holds the lease")
	require.Contains(t, out, "Warning: no reconciler is running: no host holds the lease")

	// A status as the reconciler writes it, last updated a minute ago.
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	st := l.store(t)
	now := time.Now().UTC()
	status := app.Status{
		Name: "echo", Version: "v1", State: app.StateReconciling,
		Message: "waiting for 1 more instance of echo",
		Components: []app.ComponentStatus{
			{Name: "echo", Type: "actor", Image: "127.0.0.1:5000/echo:0.3.4", Desired: 2, Actual: 1, Message: "1 instance starting"},
			{Name: "httpserver", Type: "capability", Image: "127.0.0.1:5000/httpserver:0.1.0", Desired: 1, Actual: 1},
		},
		Links: []app.LinkStatus{
			{Source: "echo", Target: "httpserver", ContractID: "wasmcloud:httpserver", LinkName: "default", Ready: true},
			{Source: "echo", Target: "kv", ContractID: "wasmcloud:keyvalue", LinkName: "default"},
		},
		Reconciler: host,
		Since:      now.Add(-5 * time.Minute),
		Updated:    now.Add(-time.Minute),
	}
	require.NoError(t, st.PutStatus(ctx, status))
	out = l.ok(t, "status", "echo")
	for _, want := range []string{
		"State:       reconciling\nMessage:     waiting for 1 more instance of echo\n",
		"Since:       " + status.Since.Format(time.RFC3339) + " (5m",
		"Updated:     " + status.Updated.Format(time.RFC3339) + " (1m",
		"Reconciler:  none: no reconciler is running: no host holds the lease",
		"Links: 1 of 2 ready",
		"Warning: no reconciler is running: no host holds the lease",
		"Warning: this reconciling status was last updated 1m",
	} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `COMPONENT\s+TYPE\s+IMAGE\s+DESIRED\s+ACTUAL\s+MESSAGE`, out)
	require.Regexp(t, `echo\s+actor\s+127.0.0.1:5000/echo:0.3.4\s+2\s+1\s+1 instance starting`, out)
	require.Regexp(t, `httpserver\s+capability\s+\S+\s+1\s+1\s+-`, out)
	require.Regexp(t, `echo\s+httpserver\s+wasmcloud:httpserver\s+default\s+yes`, out)
	require.Regexp(t, `echo\s+kv\s+wasmcloud:keyvalue\s+default\s+no`, out)
	require.Regexp(t, `echo\s+v1\s+v1\s+reconciling\s+waiting for 1 more instance of echo \(last updated 1m`, l.ok(t, "list"))

	// A host takes the lease: it is named, and the warning goes.
	lease, err := app.OpenLease(ctx, l.js, lattice.DefaultLattice, host, time.Minute, 1)
	require.NoError(t, err)
	held, err := lease.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	status.State, status.Message, status.Updated = app.StateDeployed, "", time.Now().UTC().Add(-time.Minute)
	status.Components[0].Actual, status.Components[0].Message = 2, ""
	require.NoError(t, st.PutStatus(ctx, status))
	out = l.ok(t, "status", "echo")
	require.Contains(t, out, "State:       deployed\n")
	require.Contains(t, out, "Reconciler:  "+host+" (holds the lease)\n")
	require.NotContains(t, out, "Warning", "an old status that says deployed is not stale")
	list := l.ok(t, "list")
	require.Regexp(t, `echo\s+v1\s+v1\s+deployed\s+-`, list)
	require.NotContains(t, list, "Warning")

	var view map[string]any
	decode(t, l.ok(t, "status", "echo", "-o", "json"), &view)
	require.Equal(t, host, view["reconciler_lease"].(map[string]any)["holder"])
	require.Equal(t, "deployed", view["status"].(map[string]any)["state"])
	require.Len(t, view["status"].(map[string]any)["components"], 2)

	// A status of another version than the deployed one is not the deployed version's.
	l.ok(t, "deploy", writeFile(t, "echo.yaml", testManifest("echo", "v2", "")))
	out = l.ok(t, "status", "echo")
	require.Contains(t, out, "State:       reconciling\nMessage:     waiting for the reconciler to act on version v2 (it last reported on version v1)\n")
	require.Contains(t, out, "Reported:    deployed for version v1 (the reconciler has not caught up)")

	require.Contains(t, l.fails(t, "status", "nope"), `app nope: not found on lattice "default" (apps: echo)`)

	// An old undeployed status is stale while something still runs, settled once nothing does.
	l.ok(t, "undeploy", "echo")
	status = app.Status{Name: "echo", State: app.StateUndeployed, Reconciler: host,
		Components: []app.ComponentStatus{{Name: "echo", Type: "actor", Actual: 1}},
		Since:      now.Add(-time.Minute), Updated: time.Now().UTC().Add(-time.Minute)}
	require.NoError(t, st.PutStatus(ctx, status))
	out = l.ok(t, "status", "echo")
	require.Contains(t, out, "Deployed:    none (undeployed)\nState:       undeployed\n")
	require.Contains(t, out, "Warning: this undeployed status was last updated 1m")
	status.Components[0].Actual = 0
	require.NoError(t, st.PutStatus(ctx, status))
	require.NotContains(t, l.ok(t, "status", "echo"), "Warning")
}

func TestAppStatusWatch(t *testing.T) {
	l := startAppLattice(t)
	l.ok(t, "deploy", writeFile(t, "echo.yaml", testManifest("echo", "v1", "")))
	st := l.store(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr, wait := l.start(t, ctx, "status", "echo", "--watch")
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "waiting for a reconciler") },
		10*time.Second, 20*time.Millisecond, "stdout: %s stderr: %s", stdout, stderr)

	now := time.Now().UTC()
	status := app.Status{Name: "echo", Version: "v1", State: app.StateReconciling, Message: "starting echo",
		Components: []app.ComponentStatus{{Name: "echo", Type: "actor", Desired: 2}}, Since: now, Updated: now}
	require.NoError(t, st.PutStatus(context.Background(), status))
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Message:     starting echo") },
		10*time.Second, 20*time.Millisecond, "stdout: %s", stdout)

	status.State, status.Message, status.Components[0].Actual = app.StateDeployed, "", 2
	require.NoError(t, st.PutStatus(context.Background(), status))
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "State:       deployed") },
		10*time.Second, 20*time.Millisecond, "stdout: %s", stdout)
	require.Equal(t, 2, strings.Count(stdout.String(), "---\n"), "one print per change: %s", stdout)

	cancel() // Ctrl-C
	require.Equal(t, 0, wait(), stderr.String())
}

func TestAppDeployWait(t *testing.T) {
	l := startAppLattice(t)
	ctx := context.Background()
	st := l.store(t)
	v1 := writeFile(t, "echo.yaml", testManifest("echo", "v1", ""))

	// Nobody reconciles: the wait times out, and says why.
	errOut := l.fails(t, "deploy", v1, "--wait", "--timeout", "300ms")
	require.Contains(t, errOut, "Warning: no reconciler is running: no host holds the lease; waiting anyway")
	require.Contains(t, errOut, "app echo: not deployed after 300ms; it has no status yet; no reconciler is running: no host holds the lease")

	// A status of the deployed version that is reconciling is not the end; deployed is.
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	now := time.Now().UTC()
	status := app.Status{Name: "echo", Version: "v1", State: app.StateReconciling, Message: "pulling echo",
		Components: []app.ComponentStatus{{Name: "echo", Type: "actor", Desired: 2}}, Reconciler: host, Since: now, Updated: now}
	require.NoError(t, st.PutStatus(ctx, status))
	stdout, stderr, wait := l.start(t, ctx, "deploy", "echo", "--wait")
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reconciling: pulling echo") },
		10*time.Second, 20*time.Millisecond, "stderr: %s", stderr)
	status.State, status.Message, status.Components[0].Actual = app.StateDeployed, "", 2
	require.NoError(t, st.PutStatus(ctx, status))
	require.Equal(t, 0, wait(), stderr.String())
	require.Contains(t, stdout.String(), "App echo version v1 is deployed: 2/2 instances of echo\n")

	// Waiting for v2 while the status still says v1 is deployed; then v2 fails.
	v2 := writeFile(t, "echo.yaml", testManifest("echo", "v2", ""))
	stdout, stderr, wait = l.start(t, ctx, "deploy", v2, "--wait", "-o", "json")
	require.Eventually(t, func() bool {
		rec, err := st.Get(ctx, "echo")
		return err == nil && rec.Deployed == "v2"
	}, 10*time.Second, 20*time.Millisecond)
	status.Version, status.State, status.Message = "v2", app.StateFailed, "pull 127.0.0.1:5000/echo:0.3.5: not found"
	require.NoError(t, st.PutStatus(ctx, status))
	require.Equal(t, 1, wait(), stdout.String())
	require.Contains(t, stderr.String(), "app echo version v2 failed: pull 127.0.0.1:5000/echo:0.3.5: not found")

	// Undeploy --wait: done once the status says undeployed with nothing running.
	status.Version, status.State, status.Message = "", app.StateUndeployed, "stopping echo"
	require.NoError(t, st.PutStatus(ctx, status))
	stdout, stderr, wait = l.start(t, ctx, "undeploy", "echo", "--wait")
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "undeployed: stopping echo") },
		10*time.Second, 20*time.Millisecond, "stderr: %s", stderr)
	status.Message, status.Components[0].Actual = "", 0
	require.NoError(t, st.PutStatus(ctx, status))
	require.Equal(t, 0, wait(), stderr.String())
	require.Contains(t, stdout.String(), "Undeployed app echo (was version v2)\nApp echo is undeployed: nothing of it runs\n")

	// ... or once the reconciler removed the status.
	l.ok(t, "deploy", "echo", "v1")
	status.Version, status.State, status.Components[0].Actual = "v1", app.StateDeployed, 2
	require.NoError(t, st.PutStatus(ctx, status))
	stdout, stderr, wait = l.start(t, ctx, "undeploy", "echo", "--wait", "--timeout", "20s")
	require.Eventually(t, func() bool {
		rec, err := st.Get(ctx, "echo")
		return err == nil && rec.Deployed == ""
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, st.DeleteStatus(ctx, "echo"))
	require.Equal(t, 0, wait(), stderr.String())
	require.Contains(t, stdout.String(), "App echo is undeployed")
}

func TestAppErrors(t *testing.T) {
	l := startAppLattice(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "echo"}, `no apps store on lattice "default" (bucket TRELLIS_APPS_default does not exist)`},
		{[]string{"history", "echo"}, "no app has been put"},
		{[]string{"undeploy", "echo"}, "no apps store"},
		{[]string{"del", "echo"}, "no apps store"},
		{[]string{"deploy", "echo", "v1", "v2"}, "accepts between 1 and 2 arg(s), received 3; usage: trellis app deploy FILE | NAME [VERSION]"},
		{[]string{"put"}, "usage: trellis app put FILE"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			require.Contains(t, l.fails(t, tc.args...), tc.want)
		})
	}
	l.ok(t, "put", writeFile(t, "echo.yaml", testManifest("echo", "v1", "")))
	require.Contains(t, l.fails(t, "get", "bad name!"), `app name "bad name!": only letters, digits`)

	// A NATS server without JetStream has no apps store.
	plain, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	plain.Start()
	t.Cleanup(plain.Shutdown)
	require.True(t, plain.ReadyForConnections(10*time.Second))
	code, _, errOut := runCLI(t, context.Background(), "app", "list", "--nats-url", plain.ClientURL())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "does the NATS server at "+plain.ClientURL()+" run JetStream?")
	require.Contains(t, l.fails(t, "deploy", "echo", "v9"), "deploy app echo: version v9: not found (versions: v1)")
}

// TestAppNameCheckedFirst: a NAME no app can have is refused before connecting, so the error is
// about the name even where no NATS server answers.
func TestAppNameCheckedFirst(t *testing.T) {
	for _, args := range [][]string{
		{"get", "a/b"}, {"history", "a/b"}, {"status", "a/b"}, {"undeploy", "a/b"}, {"del", "a/b", "v1"}, {"deploy", "a/b"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, context.Background(), append(append([]string{"app"}, args...), "--nats-url", "nats://127.0.0.1:1")...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, `invalid app name "a/b": only letters, digits, '-' and '_'`)
			require.NotContains(t, errOut, "connect to NATS")
		})
	}
}

// TestAppListDeleted: an app deleted while the reconciler still holds its status is listed as
// deleted, with the status's message when there is one.
func TestAppListDeleted(t *testing.T) {
	l := startAppLattice(t)
	st := l.store(t)
	ctx := context.Background()
	now := time.Now().UTC()
	require.NoError(t, st.PutStatus(ctx, app.Status{Name: "echo", State: app.StateUndeployed, Since: now, Updated: now}))
	require.Regexp(t, `(?m)^echo\s+-\s+-\s+undeployed\s+deleted$`, l.ok(t, "list"))

	require.NoError(t, st.PutStatus(ctx, app.Status{Name: "echo", State: app.StateUndeployed, Message: "stopping echo", Since: now, Updated: now,
		Components: []app.ComponentStatus{{Name: "echo", Type: "actor", Actual: 1}}}))
	require.Regexp(t, `(?m)^echo\s+-\s+-\s+undeployed\s+deleted; stopping echo$`, l.ok(t, "list"))
}
