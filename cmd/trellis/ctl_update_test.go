package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
)

// TestCtlUpdateActor runs revision 1 of an actor on two hosts and drives `ctl update actor` and
// `ctl start actor` against it: an update goes to every host running the actor, one after the
// other; the revision rule's refusal ends the command at the first host; a start of other bytes
// fails at once instead of waiting for its timeout.
func TestCtlUpdateActor(t *testing.T) {
	useTempKeys(t)
	l := hosttest.New(t)
	a, b := l.StartHost(), l.StartHost()
	spare := l.StartHost()
	keys := hosttest.NewActorKeys(t)
	meta := lattice.ActorMetadata{Name: "relay"}
	v1 := keys.Build(t, hosttest.RelayPackage, meta, 1, 1)
	v2 := keys.Build(t, hosttest.RelayPackage, meta, 2, 2)
	v3 := keys.Build(t, hosttest.RelayPackage, meta, 3, 3)
	id := l.StartActor(a, v1.Path, 1)
	l.StartActor(b, v1.Path, 1)
	hosts := []string{a.ID(), b.ID()}
	slices.Sort(hosts)

	ctl := func(args ...string) (int, string, string) {
		return runCLI(t, context.Background(), append(append([]string{"ctl"}, args...), "--nats-url", l.NS.ClientURL())...)
	}
	answers := func(want string) {
		t.Helper()
		for range 4 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := l.Ctl.Call(ctx, id, "Relay.Revision", nil)
			cancel()
			require.NoError(t, err)
			require.Equal(t, want, string(out))
		}
	}

	t.Run("every host running it", func(t *testing.T) {
		code, out, errOut := ctl("update", "actor", id, v2.Path, "--timeout", "3m", "-o", "json")
		require.Equal(t, 0, code, errOut)
		var got updateReport
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		want := updateReport{ActorID: id, Ref: v2.Path}
		for _, h := range hosts {
			want.Hosts = append(want.Hosts, updateResult{
				commandResult: commandResult{Accepted: true, HostID: h, Ref: v2.Path, ID: id, Waited: true, Event: lattice.EventActorUpdated},
				Revision:      2, PreviousRevision: 1,
			})
		}
		require.Equal(t, want, got)
		answers("2")
	})

	t.Run("the module already running", func(t *testing.T) {
		code, out, errOut := ctl("update", "actor", id, v2.Path)
		require.Equal(t, 0, code, errOut)
		for _, h := range hosts {
			require.Contains(t, out, fmt.Sprintf("Host %s: actor %s already runs revision 2 of %s: nothing to do\n", h, id, v2.Path))
		}
	})

	t.Run("a lower revision stops at the first host", func(t *testing.T) {
		code, out, errOut := ctl("update", "actor", id, v1.Path)
		require.Equal(t, 1, code, out)
		require.Contains(t, errOut, fmt.Sprintf("update actor %s on host %s failed: %s holds revision 1, not above revision 2 that runs on this host from %s",
			id, hosts[0], v1.Path, v2.Path))
		require.Contains(t, errOut, "(0 of 2 hosts updated; the others run what they ran)")
		require.Equal(t, fmt.Sprintf("Host %s: not updated (an earlier host failed)\n", hosts[1]), out)
		answers("2")
	})

	t.Run("one host", func(t *testing.T) {
		code, out, errOut := ctl("update", "actor", id, v3.Path, "--host-id", hosts[1], "--timeout", "3m")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, fmt.Sprintf("Host %s: actor %s updated from revision 2 to 3 (%s)\n", hosts[1], id, v3.Path), out)
	})

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a host not running it", []string{id, v3.Path, "--host-id", spare.ID()}, "update actor " + id + ": not running on this host"},
		{"an account key", []string{keys.Account.PublicKey(), v3.Path}, "actor id:"},
		{"no host runs it", []string{hosttest.NewActorKeys(t).Module.PublicKey(), v3.Path}, "no host of lattice default runs it"},
		{"a bad host id", []string{id, v3.Path, "--host-id", "Nnope"}, "--host-id:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := ctl(append([]string{"update", "actor"}, tt.args...)...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tt.want)
		})
	}

	// ctl start of another module under the running key fails at once with the host's reason,
	// well before its --timeout; the same bytes from another file add an instance.
	t.Run("start of other bytes", func(t *testing.T) {
		began := time.Now()
		code, out, errOut := ctl("start", "actor", v3.Path, "--host-id", hosts[0], "--timeout", "50s")
		require.Equal(t, 1, code, out)
		require.Contains(t, errOut, fmt.Sprintf(`start actor %s on host %s failed: actor %s already runs on this host from %s (revision 2); %s holds other bytes (revision 3): use "trellis ctl update actor %s %s" to replace it`,
			v3.Path, hosts[0], id, v2.Path, v3.Path, id, v3.Path))
		require.Less(t, time.Since(began), 50*time.Second, "the refusal is an event, not a timeout")

		again := filepath.Join(t.TempDir(), "again_s.wasm")
		require.NoError(t, os.WriteFile(again, v2.Module, 0o644))
		code, out, errOut = ctl("start", "actor", again, "--host-id", hosts[0], "--timeout", "50s")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "Actor "+id+" ("+again+") started on host "+hosts[0])
	})
}

// TestCtlUpdateActorArgsCheckedFirst: the actor id and --host-id are checked before connecting,
// so their errors show even where no NATS server answers.
func TestCtlUpdateActorArgsCheckedFirst(t *testing.T) {
	useTempKeys(t)
	actor := hosttest.NewActorKeys(t).Module.PublicKey()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a bad actor id", []string{"MBnope", "x.wasm"}, "actor id:"},
		{"a bad host id", []string{actor, "x.wasm", "--host-id", "Nnope"}, "--host-id:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, context.Background(), append([]string{"ctl", "update", "actor", "--nats-url", "nats://127.0.0.1:1"}, tt.args...)...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tt.want)
			require.NotContains(t, errOut, "connect to NATS")
		})
	}
}
