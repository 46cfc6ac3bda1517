package reconciler_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// echoApp is an app of the echo actor (replicas instances), the httpserver provider and the link
// between them on port, or the actor alone when provider is "".
func echoApp(name, version, actor string, replicas int, provider string, port int) string {
	m := fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: %s
  annotations:
    version: %s
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: %s
      traits:
        - type: spreadscaler
          properties:
            replicas: %d
`, name, version, actor, replicas)
	if provider == "" {
		return m
	}
	return m + fmt.Sprintf(`        - type: linkdef
          properties:
            target: httpserver
            values:
              address: 127.0.0.1:%d
    - name: httpserver
      type: capability
      properties:
        image: %s
        contract: wasmcloud:httpserver
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
`, port, provider)
}

// TestHostLossIsRepaired deploys echo (4 replicas), the httpserver provider and their link on two
// hosts; curl answers. Then the host whose reconciler acts goes away: the other host takes the
// lease and runs all four instances, the status passes through reconciling back to deployed, and
// curl answers again, with no command given.
func TestHostLossIsRepaired(t *testing.T) {
	r := newRig(t)
	a, b := r.addHost(nil), r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}, lattice.SignOptions{})
	prov := httpProvider(t)
	port := latticetest.FreePort(t)
	r.deploy(echoApp("echo", "v1", echo.Path, 4, prov.Path, port))

	st := r.waitState("echo", app.StateDeployed, "v1", 60*time.Second)
	require.Len(t, st.Components, 2)
	require.Equal(t, 4, st.Components[0].Actual)
	require.Equal(t, 1, st.Components[1].Actual)
	require.Len(t, st.Links, 1)
	require.True(t, st.Links[0].Ready)
	for _, n := range []*node{a, b} {
		m, _ := r.managed(n.h, echo.ID, "echo")
		require.Equal(t, 2, m, "two instances on each host")
	}
	require.Eventually(t, func() bool {
		code, body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && code == 200 && body == echoBody
	}, 20*time.Second, 20*time.Millisecond)

	lead := r.leader()
	require.NotNil(t, lead)
	other := a
	if lead == a {
		other = b
	}
	lead.stop()
	require.Eventually(t, func() bool { return other.rec.Leading() }, 10*time.Second, 20*time.Millisecond, "the other host takes the lease")
	require.Eventually(t, func() bool {
		m, _ := r.managed(other.h, echo.ID, "echo")
		return m == 4
	}, 30*time.Second, 50*time.Millisecond, "the lost host's share reappears on the other")
	// The stored status may still be the lost host's "deployed" until the new leader's first pass
	// writes its own, so wait for a deployed status that the other host wrote.
	require.Eventually(t, func() bool {
		st = r.status("echo")
		return st != nil && st.State == app.StateDeployed && st.Version == "v1" && st.Reconciler == other.h.ID()
	}, 30*time.Second, 20*time.Millisecond, "the other host reports the app deployed; last status: %+v", st)
	require.Eventually(t, func() bool {
		code, body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && code == 200 && body == echoBody
	}, 30*time.Second, 20*time.Millisecond)
	// The status said reconciling in between, as events (the last one is published after the
	// status is stored, so it may arrive after waitState saw it).
	var joined string
	require.Eventually(t, func() bool {
		var states []string
		for _, e := range r.l.Events.Find(app.EventStatus, nil) {
			var s app.Status
			require.NoError(t, e.DecodeData(&s))
			states = append(states, string(s.State))
		}
		joined = strings.Join(states, ",")
		return regexp.MustCompile(`deployed.*reconciling.*deployed`).MatchString(joined)
	}, 10*time.Second, 20*time.Millisecond, "status events: %s", joined)
}

// TestFailedStartIsReportedThenRetried: an image that does not exist makes the app failed with the
// host's reason; once the image exists, the app comes up without a command.
func TestFailedStartIsReportedThenRetried(t *testing.T) {
	r := newRig(t)
	r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	late := tempPath(t, "late_s.wasm")
	r.deploy(echoApp("late", "v1", late, 1, "", 0))
	st := r.waitState("late", app.StateFailed, "v1", 20*time.Second)
	require.Contains(t, st.Message, "late_s.wasm")
	require.Equal(t, 0, st.Components[0].Actual)
	copyFile(t, echo.Path, late)
	r.waitState("late", app.StateDeployed, "v1", 60*time.Second)
}

// TestSpreadNobodyMeets: a spread whose requirements no host has fails with the label.
func TestSpreadNobodyMeets(t *testing.T) {
	r := newRig(t)
	r.addHost(map[string]string{"zone": "a"})
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: zoned
  annotations:
    version: v1
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: %s
      traits:
        - type: spreadscaler
          properties:
            replicas: 2
            spread:
              - name: b
                requirements:
                  zone: b
`, echo.Path))
	st := r.waitState("zoned", app.StateFailed, "v1", 20*time.Second)
	require.Contains(t, st.Message, "no host has label zone=b")
	// A host with the label joins: the app comes up there.
	r.addHost(map[string]string{"zone": "b"})
	r.waitState("zoned", app.StateDeployed, "v1", 30*time.Second)
}

// TestManualStopIsUndoneAndUndeployLeavesOthersAlone: `ctl stop` of a managed actor is undone;
// undeploy stops what the app started and leaves instances started by ctl.
func TestManualStopIsUndoneAndUndeployLeavesOthersAlone(t *testing.T) {
	r := newRig(t)
	n := r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(echoApp("two", "v1", echo.Path, 2, "", 0))
	r.waitState("two", app.StateDeployed, "v1", 30*time.Second)

	ctx := context.Background()
	require.NoError(t, r.l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: echo.ID, HostID: n.h.ID()}))
	require.Eventually(t, func() bool { m, _ := r.managed(n.h, echo.ID, "two"); return m == 0 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { m, _ := r.managed(n.h, echo.ID, "two"); return m == 2 }, 20*time.Second, 20*time.Millisecond, "the reconciler starts them again")
	r.waitState("two", app.StateDeployed, "v1", 20*time.Second)

	r.l.StartActor(n.h, echo.Path, 1) // one more, by hand
	require.NoError(t, r.store.Undeploy(ctx, "two"))
	require.Eventually(t, func() bool {
		m, other := r.managed(n.h, echo.ID, "two")
		return m == 0 && other == 1
	}, 20*time.Second, 20*time.Millisecond, "the app's instances go, the one started by hand stays")
	r.waitState("two", app.StateUndeployed, "", 20*time.Second)
}

// TestChangeWhileNoReconcilerRuns: a deploy made while no host reconciles is carried out by the
// next host that does.
func TestChangeWhileNoReconcilerRuns(t *testing.T) {
	r := newRig(t)
	first := r.addHost(nil)
	require.Eventually(t, first.rec.Leading, 10*time.Second, 20*time.Millisecond)
	first.stop()
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(echoApp("later", "v1", echo.Path, 1, "", 0))
	require.Nil(t, r.status("later"), "nobody reconciles")
	next := r.addHost(nil)
	r.waitState("later", app.StateDeployed, "v1", 30*time.Second)
	m, _ := r.managed(next.h, echo.ID, "later")
	require.Equal(t, 1, m)
}

// TestRollingUpdateDropsNoRequest: version 2 with a higher revision of echo rolls forward while a
// client calls through HTTP: no request fails; the history has both versions; deploying v1
// again rolls back.
func TestRollingUpdateDropsNoRequest(t *testing.T) {
	r := newRig(t)
	a, b := r.addHost(nil), r.addHost(nil)
	revs := echoRevisions(t, 1, 2)
	prov := httpProvider(t)
	port := latticetest.FreePort(t)
	r.deploy(echoApp("roll", "v1", revs[0].Path, 2, prov.Path, port))
	r.waitState("roll", app.StateDeployed, "v1", 60*time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	require.Eventually(t, func() bool { c, _, err := get(url); return err == nil && c == 200 }, 20*time.Second, 20*time.Millisecond)

	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	loop := make(chan struct{})
	go func() {
		defer close(loop)
		for {
			select {
			case <-stop:
				return
			default:
			}
			code, body, err := get(url)
			if err != nil || code != 200 || body != echoBody {
				failed.Add(1)
				lastErr.Store(fmt.Sprintf("%d %q %v", code, body, err))
			} else {
				ok.Add(1)
			}
		}
	}()
	r.deploy(echoApp("roll", "v2", revs[1].Path, 2, prov.Path, port))
	r.waitState("roll", app.StateDeployed, "v2", 60*time.Second)
	for _, n := range []*node{a, b} {
		inv, err := r.l.Ctl.GetInventory(context.Background(), n.h.ID())
		require.NoError(t, err)
		for _, act := range inv.Actors {
			for _, in := range act.Instances {
				require.Equal(t, 2, in.Revision)
			}
		}
	}
	close(stop)
	<-loop
	require.Zero(t, failed.Load(), "failed requests during the roll (last: %v)", lastErr.Load())
	require.Greater(t, ok.Load(), int64(10))

	rec, err := r.store.Get(context.Background(), "roll")
	require.NoError(t, err)
	require.Len(t, rec.Versions, 2)

	// Rollback: revision 1 is lower, so the hosts refuse a live update and the instances are
	// replaced host by host.
	_, err = r.store.Deploy(context.Background(), "roll", "v1")
	require.NoError(t, err)
	r.waitState("roll", app.StateDeployed, "v1", 60*time.Second)
	require.Eventually(t, func() bool {
		for _, n := range []*node{a, b} {
			inv, err := r.l.Ctl.GetInventory(context.Background(), n.h.ID())
			if err != nil {
				return false
			}
			for _, act := range inv.Actors {
				if act.ImageRef != revs[0].Path {
					return false
				}
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)

	// Undeploy: the actors, the provider and the link the app put all go.
	require.NoError(t, r.store.Undeploy(context.Background(), "roll"))
	require.Eventually(t, func() bool {
		for _, n := range []*node{a, b} {
			inv, err := r.l.Ctl.GetInventory(context.Background(), n.h.ID())
			if err != nil || len(inv.Actors) > 0 || len(inv.Providers) > 0 {
				return false
			}
		}
		links, err := r.l.Ctl.GetLinks(context.Background())
		return err == nil && len(links) == 0
	}, 30*time.Second, 50*time.Millisecond, "nothing of the app is left")
	r.waitState("roll", app.StateUndeployed, "", 20*time.Second)
	require.Eventually(t, func() bool { _, _, err := get(url); return err != nil }, 10*time.Second, 20*time.Millisecond, "nothing listens any more")
}

// TestDaemonScalerFollowsHosts: a daemonscaler runs on every host with the label, including one
// that joins later, and none elsewhere.
func TestDaemonScalerFollowsHosts(t *testing.T) {
	r := newRig(t)
	a := r.addHost(map[string]string{"role": "edge"})
	plain := r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: daemon, annotations: {version: v1}}
spec:
  components:
    - name: echo
      type: actor
      properties: {image: %s}
      traits:
        - type: daemonscaler
          properties:
            replicas: 2
            spread: [{name: edge, requirements: {role: edge}}]
`, echo.Path))
	st := r.waitState("daemon", app.StateDeployed, "v1", 30*time.Second)
	require.Equal(t, 2, st.Components[0].Desired)
	b := r.addHost(map[string]string{"role": "edge"})
	require.Eventually(t, func() bool { m, _ := r.managed(b.h, echo.ID, "daemon"); return m == 2 }, 30*time.Second, 20*time.Millisecond, "the new host gets its two")
	st = r.waitState("daemon", app.StateDeployed, "v1", 30*time.Second)
	require.Equal(t, 4, st.Components[0].Desired)
	m, _ := r.managed(a.h, echo.ID, "daemon")
	require.Equal(t, 2, m)
	m, _ = r.managed(plain.h, echo.ID, "daemon")
	require.Zero(t, m, "no instance on a host without the label")
}

// TestNATSRestart: after the NATS server restarts (same store), the reconciler goes on: a manual
// stop is undone and a new version is rolled out.
func TestNATSRestart(t *testing.T) {
	dir := t.TempDir()
	ns := latticetest.RunNATSWithDir(t, dir, -1)
	port := latticetest.Port(t, ns)
	r := newRigOn(t, ns)
	n := r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(echoApp("restart", "v1", echo.Path, 2, "", 0))
	r.waitState("restart", app.StateDeployed, "v1", 30*time.Second)

	ns.Shutdown()
	ns.WaitForShutdown()
	latticetest.RunNATSWithDir(t, dir, port)
	require.Eventually(t, r.l.NC.IsConnected, 10*time.Second, 10*time.Millisecond)

	ctx := context.Background()
	require.Eventually(t, func() bool {
		return r.l.Ctl.StopActor(ctx, lattice.StopActorCommand{ActorRef: echo.ID, HostID: n.h.ID()}) == nil
	}, 20*time.Second, 100*time.Millisecond, "the host answers again")
	require.Eventually(t, func() bool { m, _ := r.managed(n.h, echo.ID, "restart"); return m == 2 }, 30*time.Second, 50*time.Millisecond, "the stop is undone")
	require.Eventually(t, func() bool {
		m, err := oam.Parse([]byte(echoApp("restart", "v2", echo.Path, 3, "", 0)))
		require.NoError(t, err)
		put, err := r.store.Put(ctx, m, "")
		if err != nil {
			return false
		}
		_, err = r.store.Deploy(ctx, put.Name, put.Version)
		return err == nil
	}, 20*time.Second, 100*time.Millisecond)
	r.waitState("restart", app.StateDeployed, "v2", 30*time.Second)
	m, _ := r.managed(n.h, echo.ID, "restart")
	require.Equal(t, 3, m)
}

// TestUnreadableRecordStopsNothing: a record that cannot be decoded (clients may write the
// bucket) does not make the reconciler take the app for deleted and stop what it runs.
func TestUnreadableRecordStopsNothing(t *testing.T) {
	r := newRig(t)
	n := r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	r.deploy(echoApp("keep", "v1", echo.Path, 1, "", 0))
	r.deploy(echoApp("other", "v1", echo.Path, 1, "", 0)) // a readable record beside it
	r.waitState("keep", app.StateDeployed, "v1", 30*time.Second)
	r.waitState("other", app.StateDeployed, "v1", 30*time.Second)
	js, err := jetstream.New(r.l.NC)
	require.NoError(t, err)
	kv, err := js.KeyValue(context.Background(), app.BucketName(lattice.DefaultLattice))
	require.NoError(t, err)
	_, err = kv.Put(context.Background(), app.RecordKeyPrefix+"keep", []byte("{not json"))
	require.NoError(t, err)
	passes := n.rec.Passes()
	require.Eventually(t, func() bool { return n.rec.Passes() >= passes+3 }, 20*time.Second, 20*time.Millisecond)
	m, _ := r.managed(n.h, echo.ID, "keep")
	require.Equal(t, 1, m, "still running")
}
