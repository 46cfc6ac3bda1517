package integration_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// natsMode is one way of reaching the lattice's NATS: the server(s) it needs, the connection of
// the host and ctl, and the same connection as `trellis ctl` flags.
type natsMode struct {
	name  string
	start func(t *testing.T) (*server.Server, lattice.NATSConfig, []string)
}

func natsModes() []natsMode {
	return []natsMode{
		{"user and password in the URL", func(t *testing.T) (*server.Server, lattice.NATSConfig, []string) {
			s := latticetest.RunNATSWith(t, func(o *server.Options) { o.Username, o.Password = "alice", "s3cret-pw" })
			u := fmt.Sprintf("nats://alice:s3cret-pw@127.0.0.1:%d", latticetest.Port(t, s))
			return s, lattice.NATSConfig{Servers: []string{u}}, []string{"--nats-url", u}
		}},
		{"token", func(t *testing.T) (*server.Server, lattice.NATSConfig, []string) {
			s := latticetest.RunNATSWith(t, func(o *server.Options) { o.Authorization = "s3cret-token" })
			u := s.ClientURL()
			return s, lattice.NATSConfig{Servers: []string{u}, Token: "s3cret-token"}, []string{"--nats-url", u, "--nats-token", "s3cret-token"}
		}},
		{"creds of an operator/account/user JWT setup", func(t *testing.T) (*server.Server, lattice.NATSConfig, []string) {
			creds, edit := operatorSetup(t)
			s := latticetest.RunNATSWith(t, edit)
			u := s.ClientURL()
			return s, lattice.NATSConfig{Servers: []string{u}, CredsFile: creds}, []string{"--nats-url", u, "--nats-creds", creds}
		}},
		{"three clustered servers, the first down", func(t *testing.T) (*server.Server, lattice.NATSConfig, []string) {
			servers := natsCluster(t, 3)
			var urls []string
			for _, s := range servers {
				urls = append(urls, fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, s)))
			}
			servers[0].Shutdown()
			servers[0].WaitForShutdown()
			list := strings.Join(urls, ",")
			return servers[1], lattice.NATSConfig{Servers: []string{list}, Name: "matrix"}, []string{"--nats-url", list}
		}},
		{"TLS from a private CA with client certificates", func(t *testing.T) (*server.Server, lattice.NATSConfig, []string) {
			tf := latticetest.WriteTLS(t)
			s := latticetest.RunNATSWith(t, func(o *server.Options) {
				o.TLSConfig = tf.ServerTLS(t, true)
				o.TLSVerify = true
			})
			u := fmt.Sprintf("tls://127.0.0.1:%d", latticetest.Port(t, s))
			return s, lattice.NATSConfig{Servers: []string{u}, TLSCAFile: tf.CA, TLSCertFile: tf.ClientCert, TLSKeyFile: tf.ClientKey},
				[]string{"--nats-url", u, "--nats-tls-ca", tf.CA, "--nats-tls-cert", tf.ClientCert, "--nats-tls-key", tf.ClientKey}
		}},
	}
}

// TestNATSConnectionMatrix: for each way of reaching NATS, a host joins, the httpserver provider
// process connects like its host and serves the echo actor to an HTTP GET, `trellis ctl` lists
// the host, and the applier provider process connects and starts.
func TestNATSConnectionMatrix(t *testing.T) {
	echo := echoActor(t)
	httpPAR := ociHTTPProvider(t)
	applierPAR := applierProvider(t)
	trellis := trellisCLI(t)
	for _, m := range natsModes() {
		t.Run(m.name, func(t *testing.T) {
			ns, conn, flags := m.start(t)
			l := hosttest.OnWith(t, ns, conn)
			h := l.StartHost()
			echoID := l.StartActor(h, echo.Path, 1)
			providerID := l.StartProvider(h, httpPAR.Path, "")
			port := latticetest.FreePort(t)
			l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
			status, body := waitHTTP(t, url(port, "/"))
			require.Equal(t, 200, status)
			require.Equal(t, echoBody, body)

			code, out, errOut := trellis(append([]string{"ctl", "get", "hosts", "-o", "json"}, flags...)...)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, h.ID())

			startApplier(t, l, h, applierPAR.Path)
		})
	}
}

func applierProvider(t testing.TB) latticetest.Provider {
	return latticetest.ProviderArchive(t, "./cmd/provider-applier", lattice.ProviderMetadata{
		Name: "Kubernetes applier", CapID: applier.ContractID, Vendor: "Trellis"})
}

// startApplier starts the applier provider with a kubeconfig and no Services to manage, so it
// needs no Kubernetes API: a start that succeeds means its NATS side connected and answered.
func startApplier(t *testing.T, l *hosttest.Lattice, h *host.Host, ref string) {
	t.Helper()
	kubeconfig := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u, namespace: apps}}]\ncurrent-context: x\n"
	config := fmt.Sprintf(`{"config_b64":%q,"disable_services":true}`, base64.StdEncoding.EncodeToString([]byte(kubeconfig)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outcome := lattice.ProviderStart(h.ID(), ref, "")
	w, err := l.Ctl.NewWaiter(outcome.Match)
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, l.Ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, HostID: h.ID(), Configuration: config}))
	ev, err := w.Wait(ctx)
	require.NoError(t, err)
	o, _ := outcome(ev)
	require.False(t, o.Failed, "start the applier: %s", o.Error)
}

// TestProviderThatCannotConnectFailsItsStart: the lattice's password is rotated while a host is
// connected (a server check made in the test, so the host's connection stays). A running
// provider that is killed cannot reconnect with the old password: the inventory says why it keeps
// restarting. A provider started then fails `trellis ctl start provider` with the provider's own
// connection error, and is not left in the inventory.
func TestProviderThatCannotConnectFailsItsStart(t *testing.T) {
	auth := &rotatingAuth{user: "alice", password: "old-password"}
	ns := latticetest.RunNATSWith(t, func(o *server.Options) { o.CustomClientAuthentication = auth })
	u := ns.ClientURL()
	l := hosttest.OnWith(t, ns, lattice.NATSConfig{Servers: []string{u}, User: "alice", Password: "old-password"})
	dataDir := t.TempDir()
	h := l.StartHost(func(c *host.Config) { c.DataDir = dataDir })
	par := ociHTTPProvider(t)
	running := l.StartProvider(h, par.Path, "")
	auth.rotate("new-password")

	pids := processesUnder(t, dataDir)
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	require.Eventually(t, func() bool {
		inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
		return err == nil && len(inv.Providers) == 1 && inv.Providers[0].ID == running &&
			strings.Contains(strings.ToLower(inv.Providers[0].LastError), "authorization violation")
	}, 20*time.Second, 50*time.Millisecond, "the inventory says why the provider keeps failing")

	trellis := trellisCLI(t)
	code, out, errOut := trellis("ctl", "start", "provider", par.Path, "--link-name", "second", "--host-id", h.ID(),
		"--nats-url", u, "--nats-user", "alice", "--nats-password", "new-password")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, errOut, "failed")
	require.Contains(t, strings.ToLower(errOut), "authorization violation", "the provider's own connection error")
	require.NotContains(t, out, "started on host")
	inv, err := l.Ctl.GetInventory(context.Background(), h.ID())
	require.NoError(t, err)
	require.Len(t, inv.Providers, 1, "the failed start is not in the inventory")
	require.Equal(t, lattice.DefaultLinkName, inv.Providers[0].LinkName)

	code, out, _ = trellis("ctl", "get", "inventory", h.ID(), "--nats-url", u, "--nats-user", "alice", "--nats-password", "new-password")
	require.Equal(t, 0, code)
	require.Contains(t, out, "last failed")
}

// TestProviderEnvironmentHoldsNoHostSecret reads the environment of a running httpserver process:
// the host's secrets in its own environment (cluster seed, registry password, NATS password) are
// not there; what a provider needs (PATH) is.
func TestProviderEnvironmentHoldsNoHostSecret(t *testing.T) {
	l := hosttest.New(t)
	for k, v := range map[string]string{
		"TRELLIS_CLUSTER_SEED": l.Seed, "WASMCLOUD_CLUSTER_SEED": l.Seed, "OCI_REGISTRY_PASSWORD": "registry-s3cret",
		"TRELLIS_NATS_PASSWORD": "nats-s3cret", "TRELLIS_HOST_SEED": "host-s3cret", "AWS_SECRET_ACCESS_KEY": "aws-s3cret",
		"RUST_LOG": "debug",
	} {
		t.Setenv(k, v)
	}
	dataDir := t.TempDir()
	h := l.StartHost(func(c *host.Config) { c.DataDir = dataDir })
	l.StartProvider(h, ociHTTPProvider(t).Path, "")
	pids := processesUnder(t, dataDir)
	require.Len(t, pids, 1)
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pids[0]), "environ"))
	require.NoError(t, err)
	env := string(raw)
	for _, secret := range []string{l.Seed, "registry-s3cret", "nats-s3cret", "host-s3cret", "aws-s3cret", "CLUSTER_SEED"} {
		require.NotContains(t, env, secret)
	}
	require.Contains(t, env, "PATH=")
	require.Contains(t, env, "RUST_LOG=debug")
}

// rotatingAuth accepts one user whose password the test can change; connections already made
// stay (as they do when credentials rotate on a server that checks only at connect).
type rotatingAuth struct {
	mu             sync.Mutex
	user, password string
}

func (a *rotatingAuth) rotate(pw string) {
	a.mu.Lock()
	a.password = pw
	a.mu.Unlock()
}

func (a *rotatingAuth) Check(c server.ClientAuthentication) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	o := c.GetOpts()
	return o.Username == a.user && o.Password == a.password
}

// operatorSetup makes an operator, a system account and an account with JetStream, and a user of
// it; it returns the user's .creds file and the server options that trust the operator.
func operatorSetup(t *testing.T) (string, func(*server.Options)) {
	t.Helper()
	okp, err := nkeys.CreateOperator()
	require.NoError(t, err)
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "trellis-test"
	ojwt, err := oc.Encode(okp)
	require.NoError(t, err)
	oc, err = jwt.DecodeOperatorClaims(ojwt)
	require.NoError(t, err)

	account := func(name string, js bool) (nkeys.KeyPair, string, string) {
		kp, err := nkeys.CreateAccount()
		require.NoError(t, err)
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		a, err := ac.Encode(okp)
		require.NoError(t, err)
		return kp, pub, a
	}
	_, sysPub, sysJWT := account("SYS", false)
	akp, apub, ajwt := account("TRELLIS", true)

	ukp, err := nkeys.CreateUser()
	require.NoError(t, err)
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "trellis-host"
	ujwt, err := uc.Encode(akp)
	require.NoError(t, err)
	useed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "user.creds")
	require.NoError(t, os.WriteFile(file, creds, 0o600))

	resolver := &server.MemAccResolver{}
	require.NoError(t, resolver.Store(sysPub, sysJWT))
	require.NoError(t, resolver.Store(apub, ajwt))
	return file, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oc}
		o.SystemAccount = sysPub
		o.AccountResolver = resolver
	}
}

// natsCluster starts n clustered servers with JetStream and waits until JetStream answers.
func natsCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = latticetest.FreePort(t)
	}
	var servers []*server.Server
	for i := range n {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		servers = append(servers, latticetest.RunNATSWith(t, func(o *server.Options) {
			o.ServerName = fmt.Sprintf("n%d", i)
			o.Cluster = server.ClusterOpts{Name: "trellis-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}))
	}
	nc, err := nats.Connect(servers[n-1].ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "JetStream of the cluster")
	return servers
}
