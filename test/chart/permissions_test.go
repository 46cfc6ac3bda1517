package chart_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// chartNATS is what the chart renders for its NATS server with the default values: the server
// configuration and the two users' passwords, as the Secrets hold them.
type chartNATS struct {
	conf                   string
	hostUser, hostPassword string
	opUser, opPassword     string
}

func renderNATS(t *testing.T, args ...string) chartNATS {
	t.Helper()
	out, err := template(t, args...)
	require.NoError(t, err, out)
	var n chartNATS
	for _, doc := range strings.Split(out, "\n---\n") {
		var obj struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			StringData map[string]string `yaml:"stringData"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj), doc)
		switch obj.Metadata.Name {
		case "demo-trellis-nats-config":
			n.conf = obj.StringData["nats.conf"]
		case "demo-trellis-nats-host":
			n.hostUser, n.hostPassword = obj.StringData["user"], obj.StringData["password"]
		case "demo-trellis-nats-operator":
			n.opUser, n.opPassword = obj.StringData["user"], obj.StringData["password"]
		}
	}
	require.NotEmpty(t, n.conf, "no nats.conf in the chart's Secret demo-trellis-nats-config")
	require.NotEmpty(t, n.hostPassword, "no host password in Secret demo-trellis-nats-host")
	require.NotEmpty(t, n.opPassword, "no operator password in Secret demo-trellis-nats-operator")
	return n
}

// runChartNATS runs a real nats-server with the chart's configuration, on a free local port and
// a temporary store instead of the pod's.
func runChartNATS(t *testing.T, conf string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	conf = strings.Replace(conf, "listen: 0.0.0.0:4222", "listen: 127.0.0.1:-1", 1)
	conf = strings.Replace(conf, "http: 0.0.0.0:8222\n", "", 1)
	conf = strings.Replace(conf, "store_dir: /data", "store_dir: "+strings.ReplaceAll(filepath.Join(dir, "js"), `\`, `/`), 1)
	path := filepath.Join(dir, "nats.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	opts, err := server.ProcessConfigFile(path)
	require.NoError(t, err, "nats-server does not take the chart's configuration:\n%s", conf)
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second), "nats-server did not start")
	t.Cleanup(ns.Shutdown)
	return ns
}

// connect connects as user, collecting the server's asynchronous errors (permission violations).
func connect(t *testing.T, ns *server.Server, user, password string) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 64)
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(user, password), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	require.NoError(t, err, "connect as %s", user)
	t.Cleanup(nc.Close)
	return nc, errs
}

func credentialsURL(ns *server.Server, user, password string) string {
	return strings.Replace(ns.ClientURL(), "nats://", "nats://"+user+":"+password+"@", 1)
}

// walk runs what the lattice does on the chart's NATS: a host connects as the host user, the
// operator drives it (ping, start an actor, put and get links and claims, a call over 900 KiB both
// ways through the object store) and the apps' store and the reconciler's lease open with the
// host's credentials. It returns the first step that failed.
func walk(t *testing.T, ns *server.Server, n chartNATS) error {
	t.Helper()
	opNC, _ := connect(t, ns, n.opUser, n.opPassword)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	ctl, err := lattice.NewClient(opNC, lattice.ClientConfig{Lattice: lattice.DefaultLattice, ClusterSeed: seed, Timeout: 3 * time.Second, AuctionTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	l := &hosttest.Lattice{T: t, NS: ns, NC: opNC, Cluster: cluster, Seed: seed, Ctl: ctl, Events: &hosttest.EventLog{}}
	events := make(chan lattice.CloudEvent, 256)
	unsub, err := ctl.Subscribe(func(ev lattice.CloudEvent) { events <- ev })
	require.NoError(t, err)
	defer func() { _ = unsub() }()

	cfg := l.Config()
	cfg.NATS = lattice.NATSConfig{Servers: []string{credentialsURL(ns, n.hostUser, n.hostPassword)}}
	h, err := host.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("host did not stop within 30s")
		}
	}()
	select {
	case <-h.Ready():
	case err := <-done:
		return errors.New("host: start: " + err.Error())
	case <-time.After(10 * time.Second):
		return errors.New("host: not ready after 10s")
	}

	step := func(name string, f func(context.Context) error) error {
		sctx, scancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer scancel()
		if err := f(sctx); err != nil {
			return errors.New(name + ": " + err.Error())
		}
		return nil
	}
	if err := step("operator: ping hosts", func(ctx context.Context) error {
		hosts, err := ctl.GetHosts(ctx)
		if err == nil && len(hosts) != 1 {
			err = errors.New("no host answered")
		}
		return err
	}); err != nil {
		return err
	}
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}, lattice.SignOptions{})
	if err := step("operator: start actor", func(ctx context.Context) error {
		if err := ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: echo.Path, HostID: h.ID(), Count: 1}); err != nil {
			return err
		}
		for {
			select {
			case ev := <-events:
				if ev.Name() == lattice.EventActorStarted {
					return nil
				}
			case <-ctx.Done():
				return errors.New("no actor_started event")
			}
		}
	}); err != nil {
		return err
	}
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	if err := step("operator: put and get a link", func(ctx context.Context) error {
		if err := ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: echo.ID, ProviderID: provider, ContractID: "wasmcloud:httpserver", LinkName: "default", Values: map[string]string{"ADDRESS": "127.0.0.1:0"}}); err != nil {
			return err
		}
		for {
			links, err := ctl.GetLinks(ctx)
			if err != nil {
				return err
			}
			if len(links) == 1 {
				return nil
			}
			select {
			case <-ctx.Done():
				return errors.New("the link put is not listed")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}); err != nil {
		return err
	}
	if err := step("operator: get claims", func(ctx context.Context) error {
		claims, err := ctl.GetClaims(ctx)
		if err == nil && len(claims) == 0 {
			err = errors.New("no claims")
		}
		return err
	}); err != nil {
		return err
	}
	if err := step("operator: call the actor with 1 MiB", func(ctx context.Context) error {
		req, err := httpserver.HttpRequest{Method: "POST", Path: "/", Body: make([]byte, 1<<20)}.Encode()
		require.NoError(t, err)
		out, err := ctl.Call(ctx, echo.ID, "HttpServer.HandleRequest", req)
		if err != nil {
			return err
		}
		resp, err := httpserver.DecodeResponse(out)
		if err == nil && (resp.StatusCode != 200 || len(out) <= lattice.MaxInlinePayload) {
			err = errors.New("unexpected reply")
		}
		return err
	}); err != nil {
		return err
	}
	hostNC, _ := connect(t, ns, n.hostUser, n.hostPassword)
	js, err := jetstream.New(hostNC)
	require.NoError(t, err)
	if err := step("host: the apps' store", func(ctx context.Context) error {
		s, err := app.OpenStore(ctx, js, lattice.DefaultLattice, 1)
		if err != nil {
			return err
		}
		_, err = s.Get(ctx, "nothing")
		if errors.Is(err, app.ErrNotFound) {
			err = nil
		}
		return err
	}); err != nil {
		return err
	}
	return step("host: the reconciler's lease", func(ctx context.Context) error {
		_, err := app.OpenLease(ctx, js, lattice.DefaultLattice, h.ID(), 10*time.Second, 1)
		return err
	})
}

// The chart's NATS refuses anonymous clients, and its users' permissions are enough for the
// lattice: a host, the operator's commands, links, claims, chunked calls, apps and the lease.
func TestNATSPermissionsSuffice(t *testing.T) {
	n := renderNATS(t)
	ns := runChartNATS(t, n.conf)

	_, err := nats.Connect(ns.ClientURL())
	require.ErrorContains(t, err, "Authorization Violation", "an anonymous connection must be refused")
	_, err = nats.Connect(ns.ClientURL(), nats.UserInfo(n.hostUser, n.opPassword))
	require.ErrorContains(t, err, "Authorization Violation", "the host user with the operator's password")

	require.NoError(t, walk(t, ns, n))

	// Nothing beyond the lattice: another lattice's subjects, everything, $SYS, another stream.
	for _, who := range [][2]string{{n.hostUser, n.hostPassword}, {n.opUser, n.opPassword}} {
		nc, errs := connect(t, ns, who[0], who[1])
		for _, subject := range []string{"wasmbus.ctl.other.ping.hosts", "wasmbus.rpc.other.M", "$SYS.REQ.SERVER.PING", "app.data"} {
			require.NoError(t, nc.Publish(subject, []byte("x")))
			require.NoError(t, nc.Flush())
			requireViolation(t, errs, "Publish to \""+subject+"\"", who[0])
		}
		for _, subject := range []string{">", "wasmbus.rpc.other.>", "$KV.LATTICEDATA_default.>"} {
			_, err := nc.SubscribeSync(subject)
			require.NoError(t, err)
			require.NoError(t, nc.Flush())
			requireViolation(t, errs, "Subscription to \""+subject+"\"", who[0])
		}
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LATTICEDATA_other"})
		cancel()
		require.Error(t, err, "%s made another lattice's bucket", who[0])
	}
}

func requireViolation(t *testing.T, errs <-chan error, what, user string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			if strings.Contains(err.Error(), "Permissions Violation for "+what) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no permissions violation for %s", user, what)
		}
	}
}

// Each group of permissions is needed: without it, a step of the walk fails.
func TestNATSPermissionsNeeded(t *testing.T) {
	n := renderNATS(t)
	for _, tc := range []struct {
		drop     string // the permission lines removed: those matching this expression
		section  string // "publish" or "subscribe"
		failStep string
	}{
		{`"wasmbus\.ctl\.default\.>"`, "subscribe", "operator: ping hosts"},
		{`"wasmbus\.ctl\.default\.>"`, "publish", "operator: ping hosts"},
		{`"wasmbus\.evt\.default"`, "subscribe", "operator: start actor"},
		{`"wasmbus\.evt\.default"`, "publish", "operator: start actor"},
		{`"wasmbus\.rpc\.default\.>"`, "publish", "operator: call the actor"},
		{`"wasmbus\.rpc\.default\.>"`, "subscribe", "operator: call the actor"},
		{`"_INBOX\.>"`, "subscribe", "host: not ready"},
		{`KV_LATTICEDATA_default|\$KV\.LATTICEDATA`, "publish", "host: not ready"},
		{`OBJ_default|\$O\.default`, "publish", "operator: call the actor"},
		{`KV_TRELLIS_APPS_default|\$KV\.TRELLIS_APPS`, "publish", "host: the apps' store"},
		{`KV_TRELLIS_LEASE_default|\$KV\.TRELLIS_LEASE`, "publish", "host: the reconciler's lease"},
		{`"_INBOX\.>"`, "publish", "operator: ping hosts"},
		{`"\$JS\.API\.INFO"`, "publish", "host: not ready"},
		{`\$JS\.API\.CONSUMER\.`, "publish", "host: not ready"},
		// A host reads an actor's CLAIMS_ entry before it writes it (an unchanged entry is left
		// alone), so without direct gets an actor's start is the first step to fail.
		{`\$JS\.API\.DIRECT\.GET\.`, "publish", "operator: start actor"},
		{`\$JS\.FC\.`, "publish", "operator: call the actor"},
	} {
		t.Run(tc.section+" "+tc.drop, func(t *testing.T) {
			t.Parallel() // each case waits for its failing step's timeout
			reduced := dropPermissions(t, n.conf, tc.section, regexp.MustCompile(tc.drop))
			err := walk(t, runChartNATS(t, reduced), n)
			require.Error(t, err, "the walk passed without %s in %s", tc.drop, tc.section)
			require.True(t, strings.HasPrefix(err.Error(), tc.failStep), "failed at %q, want %q", err, tc.failStep)
		})
	}
}

// dropPermissions removes the allowed subjects matching re from the given section (publish or
// subscribe) of every user.
func dropPermissions(t *testing.T, conf, section string, re *regexp.Regexp) string {
	t.Helper()
	var out []string
	in, dropped := "", 0
	for _, line := range strings.Split(conf, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "publish: {" || trimmed == "subscribe: {":
			in = strings.TrimSuffix(trimmed, ": {")
		case in == section && re.MatchString(trimmed):
			dropped++
			continue
		}
		out = append(out, line)
	}
	require.NotZero(t, dropped, "no %s permission matches %s", section, re)
	return strings.Join(out, "\n")
}
