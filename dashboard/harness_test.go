package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// buildDir holds the provider binaries built for this test process.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trellis-dashboard-test-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// env is a lattice for the dashboard's tests: a NATS server, a cluster key, hosts, a ctl client
// and a running dashboard served over HTTP.
type env struct {
	t    *testing.T
	lat  *hosttest.Lattice
	nc   *nats.Conn
	js   jetstream.JetStream
	ctl  *lattice.Client
	dash *dashboard.Dashboard
	srv  *httptest.Server
	// token is the dashboard's token, sent by get, send and dialWS when set.
	token string
}

type envOpt func(*dashboard.Config)

// newEnv starts NATS and the dashboard (no host: see startHost) and waits until the dashboard
// is ready.
func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	lat := hosttest.New(t)
	nc := lat.NC
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{Timeout: 5 * time.Second, HostsQuietPeriod: 200 * time.Millisecond})
	require.NoError(t, err)

	cfg := dashboard.DefaultConfig()
	js := latticetest.JetStream(t, nc)
	cfg.Client, cfg.NC, cfg.JetStream = ctl, nc, js
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	cfg.AuctionTimeout = 300 * time.Millisecond
	cfg.CommandTimeout = 90 * time.Second // a loaded CI machine compiles actors slowly
	for _, o := range opts {
		o(&cfg)
	}
	d, err := dashboard.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("dashboard did not stop within 10s")
		}
	})
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, lat: lat, nc: nc, js: js, ctl: ctl, dash: d, srv: srv, token: cfg.Token}
	require.Eventually(t, d.Ready, 10*time.Second, 10*time.Millisecond, "dashboard not ready")
	return e
}

// startHost runs a host on the lattice until the test ends, checking provider health often, and
// returns once the dashboard lists it.
func (e *env) startHost(opts ...hosttest.Option) *host.Host {
	e.t.Helper()
	h := e.lat.StartHost(append([]hosttest.Option{func(c *host.Config) {
		c.ProviderHealthDelay = 300 * time.Millisecond
		c.ProviderHealthInterval = 2 * time.Second
		c.ProviderShutdownDelay = time.Second
	}}, opts...)...)
	e.eventually(func(v dashboard.View) bool {
		return slices.ContainsFunc(v.Hosts, func(hv dashboard.HostView) bool { return hv.ID == h.ID() })
	}, "the dashboard lists host "+h.ID())
	return h
}

// appStore opens the lattice's apps store, to write what the reconciler and other clients would.
func (e *env) appStore() *app.Store {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := app.OpenStore(ctx, e.js, lattice.DefaultLattice, 1)
	require.NoError(e.t, err)
	return s
}

// url is the dashboard's address of path.
func (e *env) url(path string) string { return e.srv.URL + path }

// get decodes the JSON answer of GET path into v and returns the status.
func (e *env) get(path string, v any) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
	require.NoError(e.t, err)
	e.authorize(req.Header)
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	if v != nil {
		require.NoError(e.t, json.NewDecoder(res.Body).Decode(v), "GET %s", path)
	}
	return res.StatusCode
}

// answer is a command's JSON answer: a result or an error.
type answer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	HostID   string   `json:"host_id"`
	ID       string   `json:"id"`
	Event    string   `json:"event"`
	Version  string   `json:"version"`
	Revision *int     `json:"revision"`
	Error    string   `json:"error"`
	Field    string   `json:"field"`
	Warnings []string `json:"warnings"`
}

// send sends a JSON body (a string is sent as is) and returns the status and the answer.
func (e *env) send(method, path string, body any) (int, answer) {
	e.t.Helper()
	var raw []byte
	if s, ok := body.(string); ok {
		raw = []byte(s)
	} else {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(e.t, err)
	}
	return e.sendAs(method, path, "application/json", string(raw))
}

// sendAs sends body with the Content-Type ("": none) and returns the status and the answer.
func (e *env) sendAs(method, path, contentType, body string) (int, answer) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), strings.NewReader(body))
	require.NoError(e.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	e.authorize(req.Header)
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	var a answer
	require.NoError(e.t, json.Unmarshal(b, &a), "%s %s answered %d %s", method, path, res.StatusCode, b)
	require.Equal(e.t, "application/json", res.Header.Get("Content-Type"))
	return res.StatusCode, a
}

// authorize adds the dashboard's token, when it has one, as a program sends it.
func (e *env) authorize(h http.Header) {
	if e.token != "" {
		h.Set("Authorization", "Bearer "+e.token)
	}
}

// view returns the dashboard's current view.
func (e *env) view() dashboard.View {
	e.t.Helper()
	var v dashboard.View
	require.Equal(e.t, http.StatusOK, e.get("/api/lattice", &v))
	return v
}

// eventually polls the view until cond holds.
func (e *env) eventually(cond func(v dashboard.View) bool, msg string) dashboard.View {
	e.t.Helper()
	var last dashboard.View
	require.Eventually(e.t, func() bool {
		last = e.view()
		return cond(last)
	}, 60*time.Second, 20*time.Millisecond, "%s; last view: %+v", msg, last)
	return last
}

func findActor(v dashboard.View, id string) (dashboard.ActorView, bool) {
	for _, a := range v.Actors {
		if a.ID == id {
			return a, true
		}
	}
	return dashboard.ActorView{}, false
}

func findProvider(v dashboard.View, id string) (dashboard.ProviderView, bool) {
	for _, p := range v.Providers {
		if p.ID == id {
			return p, true
		}
	}
	return dashboard.ProviderView{}, false
}

// echoActor is the echo example, signed with the httpserver capability.
func echoActor(t *testing.T) latticetest.Actor {
	t.Helper()
	return latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}, lattice.SignOptions{})
}

var (
	buildMu  sync.Mutex
	parCache = map[string]provider{}
)

// provider is a provider archive written to disk.
type provider struct {
	Path string
	ID   string
}

// providerArchive builds a provider command (e.g. "./cmd/provider-httpserver") and packs it into
// a signed .par.gz for this platform. Both are made once per test process: packing a 10 MB
// binary at gzip's best compression takes long in a -race build, and every test runs its own
// lattice, so sharing the archive (and its key) between tests is harmless.
func providerArchive(t *testing.T, pkg, name, capID string) provider {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := parCache[pkg]; ok {
		return p
	}
	bin := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = latticetest.ModuleRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	account := latticetest.Key(t, lattice.PrefixAccount)
	service := latticetest.Key(t, lattice.PrefixService)
	var buf bytes.Buffer
	_, err = lattice.WritePAR(&buf, account, service,
		lattice.ProviderMetadata{Name: name, CapID: capID, Vendor: "trellis"},
		map[string][]byte{lattice.TargetName(runtime.GOOS, runtime.GOARCH): b}, lattice.SignOptions{})
	require.NoError(t, err)
	path := filepath.Join(buildDir, strings.ReplaceAll(name, " ", "_")+".par.gz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	p := provider{Path: path, ID: service.PublicKey()}
	parCache[pkg] = p
	return p
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// echoAnswer is what the echo actor answers to GET / without a body.
const echoAnswer = `{"body":[],"method":"GET","path":"/","query_string":""}`

// httpGet returns the status and body of GET url, or an error.
func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}
