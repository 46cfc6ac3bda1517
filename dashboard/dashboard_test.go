package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestAPIListsTheLattice(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	echo := echoActor(t)
	providerID := latticetest.Key(t, lattice.PrefixService).PublicKey()

	// Drive the lattice with the ctl client, not the dashboard: the dashboard must follow.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := e.ctl.NewWaiter(func(ev lattice.CloudEvent) bool { return ev.Name() == lattice.EventActorStarted })
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, e.ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: echo.Path, HostID: h.ID(), Count: 2}))
	_, err = w.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, e.ctl.PutLink(ctx, lattice.LinkDefinition{
		ActorID: echo.ID, ProviderID: providerID, ContractID: "wasmcloud:httpserver", Values: map[string]string{"ADDRESS": "127.0.0.1:9"},
	}))

	v := e.eventually(func(v dashboard.View) bool {
		a, ok := findActor(v, echo.ID)
		return ok && a.Instances == 2 && len(v.Links) == 1 && len(v.Claims) > 0
	}, "the view shows the actor with 2 instances, the link and the claims")
	require.Equal(t, "default", v.Lattice)
	require.True(t, v.Connected)
	require.True(t, v.Ready)
	require.Len(t, v.Hosts, 1)
	hv := v.Hosts[0]
	require.Equal(t, h.ID(), hv.ID)
	require.NotEmpty(t, hv.FriendlyName)
	require.Equal(t, "0.1.0", hv.Version)
	require.False(t, hv.Stale)
	require.Equal(t, 1, hv.Actors)
	require.Equal(t, 2, hv.Instances)

	a, _ := findActor(v, echo.ID)
	require.Equal(t, "echo", a.Name)
	require.Equal(t, []string{"wasmcloud:httpserver"}, a.Caps)
	require.Len(t, a.Hosts, 1)
	live := a.Hosts[0]
	require.Equal(t, 2, live.MaxInstances, "at most the count")
	require.LessOrEqual(t, live.InUse+live.Idle, 2)
	require.Equal(t, []dashboard.ActorPlacement{{HostID: h.ID(), ImageRef: echo.Path, Instances: 2, Revision: live.Revision,
		InUse: live.InUse, Idle: live.Idle, MaxInstances: 2}}, a.Hosts)

	l := v.Links[0]
	require.Equal(t, echo.ID, l.ActorID)
	require.Equal(t, providerID, l.ProviderID)
	require.Equal(t, "default", l.LinkName)
	require.Equal(t, map[string]string{"ADDRESS": "127.0.0.1:9"}, l.Values)
	require.Equal(t, dashboard.LinkUnsigned, l.Status)
	require.False(t, l.Signed)

	// The list endpoints answer the parts of the same view.
	var hosts []dashboard.HostView
	require.Equal(t, http.StatusOK, e.get("/api/hosts", &hosts))
	require.Len(t, hosts, 1)
	require.Equal(t, h.ID(), hosts[0].ID)
	var actors []dashboard.ActorView
	require.Equal(t, http.StatusOK, e.get("/api/actors", &actors))
	require.Len(t, actors, 1)
	var links []dashboard.LinkView
	require.Equal(t, http.StatusOK, e.get("/api/links", &links))
	require.Len(t, links, 1)
	var providers []dashboard.ProviderView
	require.Equal(t, http.StatusOK, e.get("/api/providers", &providers))
	require.Empty(t, providers)
	var events []dashboard.Event
	require.Equal(t, http.StatusOK, e.get("/api/events", &events))
	types := map[string]bool{}
	for _, ev := range events {
		types[ev.Type] = true
		require.NotEqual(t, lattice.EventHostHeartbeat, ev.Type, "heartbeats stay out of the log")
	}
	require.True(t, types[lattice.EventActorStarted], "events: %v", types)
	require.True(t, types[lattice.EventLinkdefSet], "events: %v", types)

	// A link the actor's claims do not allow is defined, with a warning that says so.
	status, res := e.send(http.MethodPost, "/api/links", map[string]any{
		"actor_id": echo.ID, "provider_id": providerID, "contract_id": "wasmcloud:keyvalue"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, []string{"actor " + echo.ID + " (echo) is not signed with the wasmcloud:keyvalue capability: hosts refuse calls over this link, either way"}, res.Warnings)
	status, res = e.send(http.MethodPost, "/api/links", map[string]any{
		"actor_id": echo.ID, "provider_id": providerID, "contract_id": "wasmcloud:httpserver", "values": "ADDRESS=127.0.0.1:9"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Empty(t, res.Warnings)
}

// wsClient reads the dashboard's websocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (e *env) dialWS() *wsClient {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	h := http.Header{"Origin": {e.srv.URL}}
	e.authorize(h)
	conn, res, err := websocket.DefaultDialer.Dial(url, h)
	require.NoError(e.t, err)
	res.Body.Close()
	e.t.Cleanup(func() { conn.Close() })
	return &wsClient{t: e.t, conn: conn}
}

// next returns the next message match accepts, waiting up to 60s.
func (c *wsClient) next(match func(dashboard.Message) bool) dashboard.Message {
	c.t.Helper()
	return c.nextWithin(60*time.Second, match)
}

// nextWithin returns the next message match accepts, waiting up to d.
func (c *wsClient) nextWithin(d time.Duration, match func(dashboard.Message) bool) dashboard.Message {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(d)))
	for {
		var m dashboard.Message
		_, data, err := c.conn.ReadMessage()
		require.NoError(c.t, err, "websocket: no matching message")
		require.NoError(c.t, json.Unmarshal(data, &m))
		if match(m) {
			return m
		}
	}
}

func TestWebsocketStreamsActorStart(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	echo := echoActor(t)

	ws := e.dialWS()
	first := ws.next(func(m dashboard.Message) bool { return true })
	require.Equal(t, "view", first.Type, "a client gets the view first")
	require.NotNil(t, first.View)
	require.Len(t, first.View.Hosts, 1)
	second := ws.next(func(m dashboard.Message) bool { return true })
	require.Equal(t, "events", second.Type, "then the event log")

	// Start through the API without a host: the auction picks the only one.
	status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": echo.Path, "count": 1})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, "done", res.Status)
	require.Equal(t, echo.ID, res.ID)
	require.Equal(t, h.ID(), res.HostID)
	require.Contains(t, res.Message, "started echo")

	ev := ws.next(func(m dashboard.Message) bool { return m.Type == "event" && m.Event.Type == lattice.EventActorStarted })
	require.Equal(t, h.ID(), ev.Event.Source)
	var data lattice.ActorStartedData
	require.NoError(t, json.Unmarshal(ev.Event.Data, &data))
	require.Equal(t, echo.ID, data.PublicKey)
	require.Equal(t, echo.Path, data.ImageRef)

	view := ws.next(func(m dashboard.Message) bool {
		if m.Type != "view" {
			return false
		}
		_, ok := findActor(*m.View, echo.ID)
		return ok
	})
	a, _ := findActor(*view.View, echo.ID)
	require.Equal(t, 1, a.Instances)
}

func TestActorCommands(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	echo := echoActor(t)

	status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": echo.Path, "host_id": h.ID()})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	e.eventually(func(v dashboard.View) bool { _, ok := findActor(v, echo.ID); return ok }, "actor shows")

	// Scale without naming the host: the only host running it.
	status, res = e.send(http.MethodPost, "/api/actors/scale", map[string]any{"actor_id": echo.ID, "count": 3})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	e.eventually(func(v dashboard.View) bool { a, ok := findActor(v, echo.ID); return ok && a.Instances == 3 }, "scaled to 3")

	// Scaling to what runs answers at once.
	status, res = e.send(http.MethodPost, "/api/actors/scale", map[string]any{"actor_id": echo.ID, "host_id": h.ID(), "count": 3})
	require.Equal(t, http.StatusOK, status, "%+v", res)

	status, res = e.send(http.MethodPost, "/api/actors/stop", map[string]any{"actor_id": echo.ID})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, lattice.EventActorStopped, res.Event)
	e.eventually(func(v dashboard.View) bool { return len(v.Actors) == 0 }, "actor gone")

	// Nothing runs it any more.
	status, res = e.send(http.MethodPost, "/api/actors/stop", map[string]any{"actor_id": echo.ID})
	require.Equal(t, http.StatusNotFound, status, "%+v", res)
	require.Equal(t, "host_id", res.Field)
	status, res = e.send(http.MethodPost, "/api/actors/stop", map[string]any{"actor_id": echo.ID, "host_id": h.ID()})
	require.Equal(t, http.StatusConflict, status, "%+v", res)
	require.Contains(t, res.Error, "refused by the host")
}

// badRef is a reference no host can start, without depending on DNS: nothing listens on port 1.
const badRef = "127.0.0.1:1/no/such-actor:0.1.0"

// startFailure returns the error of the host's start_failed event for ref, from the event log.
func (e *env) startFailure(name, field, ref string) string {
	e.t.Helper()
	return e.eventValue(name, field, ref, "error")
}

// eventValue returns the data's want of the first event called name whose data's field is ref,
// from the event log.
func (e *env) eventValue(name, field, ref, want string) string {
	e.t.Helper()
	var found string
	require.Eventually(e.t, func() bool {
		var events []dashboard.Event
		e.get("/api/events", &events)
		for _, ev := range events {
			var d map[string]any
			if ev.Type == name && json.Unmarshal(ev.Data, &d) == nil && d[field] == ref {
				found, _ = d[want].(string)
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "no %s event for %s", name, ref)
	return found
}

func TestBadReferenceShowsTheHostsError(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	for _, ref := range []string{badRef, "/does/not/exist/echo_s.wasm"} {
		t.Run(ref, func(t *testing.T) {
			status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": ref, "host_id": h.ID()})
			require.Equal(t, http.StatusUnprocessableEntity, status, "%+v", res)
			require.Equal(t, "ref", res.Field)
			require.Contains(t, res.Error, "could not start the actor")
			hostErr := e.startFailure(lattice.EventActorStartFailed, "actor_ref", ref)
			require.NotEmpty(t, hostErr)
			require.Contains(t, res.Error, hostErr, "the answer carries the host's error")

			status, res = e.send(http.MethodPost, "/api/providers", map[string]any{"ref": ref})
			require.Equal(t, http.StatusUnprocessableEntity, status, "%+v", res)
			require.Equal(t, "ref", res.Field)
			require.Contains(t, res.Error, e.startFailure(lattice.EventProviderStartFailed, "provider_ref", ref))
		})
	}
	status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": "/does/not/exist/echo_s.wasm", "host_id": h.ID()})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, res.Error, "/does/not/exist/echo_s.wasm: no such file")

	// The host keeps serving, and so does the dashboard.
	require.Equal(t, http.StatusOK, e.get("/api/livez", nil))
	hosts, err := e.ctl.GetHosts(context.Background())
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	require.Len(t, e.view().Hosts, 1)
}

func TestBadRequestsNameTheField(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	prov := latticetest.Key(t, lattice.PrefixService).PublicKey()
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field, msg         string
	}{
		{"ref wrong type", "POST", "/api/actors", `{"ref": 42}`, 400, "ref", "want a string"},
		{"ref missing", "POST", "/api/actors", `{}`, 400, "ref", "required"},
		{"ref two lines", "POST", "/api/actors", map[string]any{"ref": "a\nb"}, 400, "ref", "one line"},
		{"count zero", "POST", "/api/actors", map[string]any{"ref": "x", "count": 0}, 400, "count", "want 1 to 65535"},
		{"count text", "POST", "/api/actors", `{"ref":"x","count":"3"}`, 400, "count", "want a number"},
		{"host id", "POST", "/api/actors", map[string]any{"ref": "x", "host_id": "N123"}, 400, "host_id", ""},
		{"host id of an actor", "POST", "/api/actors", map[string]any{"ref": "x", "host_id": actor}, 400, "host_id", ""},
		{"unknown field", "POST", "/api/actors", map[string]any{"ref": "x", "image": "y"}, 400, "image", "unknown field"},
		{"constraints", "POST", "/api/actors", map[string]any{"ref": "x", "constraints": "zone"}, 400, "constraints", "want KEY=VALUE"},
		{"invalid JSON", "POST", "/api/actors", `{"ref":`, 400, "", "JSON"},
		{"auction with no match", "POST", "/api/actors", map[string]any{"ref": "x", "constraints": "zone=mars"}, 409, "host_id", "no host answered the auction"},
		{"scale without count", "POST", "/api/actors/scale", map[string]any{"actor_id": actor}, 400, "count", "required"},
		{"scale bad actor", "POST", "/api/actors/scale", map[string]any{"actor_id": prov, "count": 1}, 400, "actor_id", ""},
		{"stop without actor", "POST", "/api/actors/stop", `{}`, 400, "actor_id", "required"},
		{"provider link name", "POST", "/api/providers", map[string]any{"ref": "x", "link_name": "a.b"}, 400, "link_name", "no spaces, dots or wildcards"},
		{"provider config", "POST", "/api/providers", map[string]any{"ref": "x", "config": "{nope"}, 400, "config", "not valid JSON"},
		{"stop provider id", "POST", "/api/providers/stop", map[string]any{"provider_id": actor}, 400, "provider_id", ""},
		{"link actor", "POST", "/api/links", map[string]any{"actor_id": "", "provider_id": prov, "contract_id": "c"}, 400, "actor_id", "required"},
		{"link provider", "POST", "/api/links", map[string]any{"actor_id": actor, "provider_id": actor, "contract_id": "c"}, 400, "provider_id", ""},
		{"link values", "POST", "/api/links", map[string]any{"actor_id": actor, "provider_id": prov, "contract_id": "c", "values": "ADDRESS"}, 400, "values", "line 1"},
		{"link contract unknown", "POST", "/api/links", map[string]any{"actor_id": actor, "provider_id": prov}, 400, "contract_id", "required"},
		{"delete unknown link", "DELETE", "/api/links", map[string]any{"actor_id": actor, "contract_id": "c"}, 404, "", "no link of actor"},
		{"delete without contract", "POST", "/api/links/delete", map[string]any{"actor_id": actor}, 400, "contract_id", "required"},
		{"no such endpoint", "POST", "/api/nothing", `{}`, 404, "", "no endpoint POST /api/nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := e.send(tt.method, tt.path, tt.body)
			require.Equal(t, tt.status, status, "%+v", res)
			require.Equal(t, tt.field, res.Field, "%+v", res)
			require.Contains(t, res.Error, tt.msg)
			if tt.field != "" {
				require.True(t, strings.HasPrefix(res.Error, tt.field+": ") || status != 400, "the message starts with the field: %q", res.Error)
			}
		})
	}
	require.Len(t, e.view().Hosts, 1, "host %s still there", h.ID())
}

func TestLinkCommands(t *testing.T) {
	e := newEnv(t)
	e.startHost()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	prov := latticetest.Key(t, lattice.PrefixService).PublicKey()

	status, res := e.send(http.MethodPost, "/api/links", map[string]any{
		"actor_id": actor, "provider_id": prov, "contract_id": "wasmcloud:keyvalue", "link_name": "cache",
		"values": "URL=redis://127.0.0.1:6379\n# comment\nTIMEOUT = 5\n",
	})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, lattice.EventLinkdefSet, res.Event)
	require.Equal(t, lattice.LinkID(actor, "wasmcloud:keyvalue", "cache"), res.ID)

	v := e.eventually(func(v dashboard.View) bool { return len(v.Links) == 1 }, "link shows")
	require.Equal(t, map[string]string{"URL": "redis://127.0.0.1:6379", "TIMEOUT": "5"}, v.Links[0].Values)
	require.Equal(t, "cache", v.Links[0].LinkName)

	// Values as an object work too, and replace the link.
	status, res = e.send(http.MethodPost, "/api/links", map[string]any{
		"actor_id": actor, "provider_id": prov, "contract_id": "wasmcloud:keyvalue", "link_name": "cache", "values": map[string]string{"URL": "redis://other"},
	})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	e.eventually(func(v dashboard.View) bool { return len(v.Links) == 1 && v.Links[0].Values["URL"] == "redis://other" }, "link replaced")

	status, res = e.send(http.MethodDelete, "/api/links", map[string]any{"actor_id": actor, "contract_id": "wasmcloud:keyvalue", "link_name": "cache"})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, lattice.EventLinkdefDeleted, res.Event)
	e.eventually(func(v dashboard.View) bool { return len(v.Links) == 0 }, "link gone")
}

func TestStaleHostIsMarkedThenRemoved(t *testing.T) {
	e := newEnv(t, func(c *dashboard.Config) {
		c.HostTimeout = 2 * time.Second
		c.HostRemoveAfter = 4 * time.Second
	})
	// A host that heartbeats once and then says nothing more (its pod was killed).
	ghost := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	ev, err := lattice.NewEvent(lattice.EventHostHeartbeat, ghost, lattice.HostHeartbeatData{
		FriendlyName: "ghost-host", Version: "9.9.9", UptimeSeconds: 60, Labels: map[string]string{"zone": "z1"},
		Actors: map[string]int{}, Providers: []lattice.HeartbeatProvider{},
	})
	require.NoError(t, err)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, e.nc.Publish(e.ctl.Subjects().Events(), raw))

	find := func(v dashboard.View) (dashboard.HostView, bool) {
		for _, h := range v.Hosts {
			if h.ID == ghost {
				return h, true
			}
		}
		return dashboard.HostView{}, false
	}
	v := e.eventually(func(v dashboard.View) bool { _, ok := find(v); return ok }, "the host shows")
	h, _ := find(v)
	require.Equal(t, "ghost-host", h.FriendlyName)
	require.Equal(t, map[string]string{"zone": "z1"}, h.Labels)
	require.Equal(t, "9.9.9", h.Version)

	e.eventually(func(v dashboard.View) bool { h, ok := find(v); return ok && h.Stale }, "the host is marked stale")
	e.eventually(func(v dashboard.View) bool { _, ok := find(v); return !ok }, "the host is removed")
}

func TestHostStoppedLeavesTheView(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	e.eventually(func(v dashboard.View) bool { return len(v.Hosts) == 1 }, "host shows")
	h.Stop()
	e.eventually(func(v dashboard.View) bool { return len(v.Hosts) == 0 }, "host gone after host_stopped")
}

func TestProbes(t *testing.T) {
	// Before Run: alive, not ready.
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{})
	require.NoError(t, err)
	cfg := dashboard.DefaultConfig()
	cfg.Client, cfg.NC = ctl, nc
	d, err := dashboard.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	probe := func(path string) (int, map[string]any) {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return res.StatusCode, body
	}
	status, body := probe("/api/livez")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, body["live"])
	status, body = probe("/api/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "first lattice refresh not done yet", body["reason"])

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	require.Eventually(t, func() bool { s, _ := probe("/api/readyz"); return s == http.StatusOK }, 10*time.Second, 10*time.Millisecond)

	// NATS goes away: not ready, still alive.
	nc.Close()
	status, body = probe("/api/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "not connected to NATS", body["reason"])
	status, _ = probe("/api/livez")
	require.Equal(t, http.StatusOK, status)

	cancel()
	require.NoError(t, <-done)
}

func TestPageAndAssets(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="app.js"`},
		{"/app.js", "text/javascript", "new WebSocket"},
		{"/kit.js", "text/javascript", "export function sync("},
		{"/apps.js", "text/javascript", "export function renderApps("},
		{"/style.css", "text/css", ".topbar"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		res, err := http.Get(e.url(tt.path))
		require.NoError(t, err)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, tt.path)
		require.Contains(t, res.Header.Get("Content-Type"), tt.ctype, tt.path)
		require.Contains(t, string(b), tt.contains, tt.path)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	}
	// A page of another origin cannot read the stream.
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	_, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestOnlyKnownHostNamesAreServed(t *testing.T) {
	e := newEnv(t, func(c *dashboard.Config) { c.AllowedHosts = []string{"dash.example.com"} })
	for _, tt := range []struct {
		host   string
		status int
	}{
		{"127.0.0.1:4000", http.StatusOK},
		{"[::1]:4000", http.StatusOK},
		{"10.1.2.3", http.StatusOK},
		{"localhost:4000", http.StatusOK},
		{"LOCALHOST.", http.StatusOK},
		{"dash.example.com", http.StatusOK},
		{"Dash.Example.com:443", http.StatusOK},
		{"evil.example:4000", http.StatusForbidden},
		{"localhost.evil.example", http.StatusForbidden},
	} {
		t.Run(tt.host, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.url("/api/livez"), nil)
			require.NoError(t, err)
			req.Host = tt.host
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tt.status, res.StatusCode)
		})
	}
}

func TestServe(t *testing.T) {
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{HostsQuietPeriod: 100 * time.Millisecond, Timeout: time.Second})
	require.NoError(t, err)
	cfg := dashboard.DefaultConfig()
	cfg.Client = ctl // no NC: readiness follows the refreshes
	d, err := dashboard.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	require.Eventually(t, func() bool {
		res, err := http.Get(url + "/api/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "Serve answers and gets ready")
	require.Error(t, d.Run(ctx), "Run is already running")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	_, err = http.Get(url + "/api/livez")
	require.Error(t, err, "the listener is closed")
}
