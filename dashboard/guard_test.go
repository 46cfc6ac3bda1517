package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// changeLog records, as the NATS server passes them on, the messages that ask the lattice to
// change: control commands, link puts and deletes, auctions (not the queries) and writes into
// any KV bucket (the apps store, the lattice data). Messages of one connection arrive in the
// order it sent them, so when the first change after some refused requests is a marker sent
// after them, the refused requests sent nothing.
type changeLog struct {
	t  *testing.T
	ch chan *nats.Msg
}

func (e *env) recordChanges() *changeLog {
	e.t.Helper()
	nc := latticetest.Connect(e.t, e.lat.NS)
	ch := make(chan *nats.Msg, 4096)
	for _, subj := range []string{"wasmbus.ctl.>", "$KV.>"} {
		_, err := nc.ChanSubscribe(subj, ch)
		require.NoError(e.t, err)
	}
	require.NoError(e.t, nc.Flush())
	return &changeLog{t: e.t, ch: ch}
}

// next returns the next change, skipping queries (get, ping), waiting up to 30s.
func (l *changeLog) next() *nats.Msg {
	l.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-l.ch:
			if strings.Contains(m.Subject, ".get.") || strings.Contains(m.Subject, ".ping.") {
				continue
			}
			return m
		case <-timeout:
			l.t.Fatal("no change reached NATS within 30s")
			return nil
		}
	}
}

// markerRef is the reference of the actor start that marks the end of the refused requests: a
// registry nobody listens on, so the host tries, fails and changes nothing.
const markerRef = "127.0.0.1:1/trellis/marker:0.1.0"

// expectOnlyMarker checks that the first change the log saw is the marker: none of the requests
// sent before it reached the lattice.
func (l *changeLog) expectOnlyMarker() {
	l.t.Helper()
	m := l.next()
	require.True(l.t, strings.HasSuffix(m.Subject, ".la") && strings.Contains(string(m.Data), markerRef),
		"the first change after the refused requests is the marker, not %s %s", m.Subject, m.Data)
}

// request is one HTTP request to the dashboard, with the headers a browser or a program sends.
type request struct {
	method, path, ctype, body string
	header                    http.Header
}

// response is what the dashboard answered.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(r request) response {
	e.t.Helper()
	req, err := http.NewRequest(r.method, e.url(r.path), strings.NewReader(r.body))
	require.NoError(e.t, err)
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	out := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && strings.HasPrefix(out.raw, "{") {
		require.NoError(e.t, json.Unmarshal(b, &out.body), "%s %s: %s", r.method, r.path, b)
	}
	return out
}

// requireSecurityHeaders checks the headers every answer carries.
func requireSecurityHeaders(t *testing.T, h http.Header, what string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		require.Contains(t, csp, directive, what)
	}
	require.NotContains(t, csp, "unsafe-inline", what)
	require.Equal(t, "DENY", h.Get("X-Frame-Options"), what)
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), what)
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), what)
}

// changingRequests are commands that would each change the lattice (start the echo actor, put a
// link, store and deploy an app, delete a link) if the dashboard took them.
func changingRequests(t *testing.T, echo latticetest.Actor) []request {
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	link, err := json.Marshal(map[string]any{"actor_id": echo.ID, "provider_id": provider, "contract_id": "wasmcloud:httpserver", "values": "ADDRESS=127.0.0.1:1"})
	require.NoError(t, err)
	start, err := json.Marshal(map[string]any{"ref": echo.Path})
	require.NoError(t, err)
	return []request{
		{method: http.MethodPost, path: "/api/actors", ctype: "application/json", body: string(start)},
		{method: http.MethodPost, path: "/api/links", ctype: "application/json", body: string(link)},
		{method: http.MethodPost, path: "/api/apps", ctype: "application/yaml", body: echoAppYAML("v1")},
		{method: http.MethodPost, path: "/api/apps/echo-app/deploy", ctype: "application/json", body: `{}`},
		{method: http.MethodDelete, path: "/api/links", ctype: "application/json", body: `{"actor_id": "` + echo.ID + `", "contract_id": "wasmcloud:httpserver"}`},
	}
}

// marker is an actor start on hostID that reaches NATS and changes nothing.
func marker(hostID string, header http.Header) request {
	return request{method: http.MethodPost, path: "/api/actors", ctype: "application/json",
		body: `{"ref": "` + markerRef + `", "host_id": "` + hostID + `"}`, header: header}
}

// requireUnchanged checks that the lattice has no actor, link or app: what the refused requests
// would have made.
func (e *env) requireUnchanged() {
	e.t.Helper()
	v := e.view()
	require.Empty(e.t, v.Actors)
	require.Empty(e.t, v.Links)
	links, err := e.ctl.GetLinks(context.Background())
	require.NoError(e.t, err)
	require.Empty(e.t, links)
	apps, err := e.appStore().List(context.Background())
	require.NoError(e.t, err)
	require.Empty(e.t, apps)
}

// TestCrossSiteRequestsAreRefused: a state-changing request that another site's page could send
// (a foreign or null Origin, a Sec-Fetch-Site other than same-origin, a text/plain or form body)
// gets 403 naming the header, on every command, and nothing reaches the lattice; the page's own
// requests and programs' requests go through.
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	echo := echoActor(t)
	self := e.srv.URL
	log := e.recordChanges()

	forged := []struct {
		name   string
		ctype  string // "" keeps the request's own
		header http.Header
		field  string
	}{
		{"foreign origin", "", http.Header{"Origin": {"http://evil.example"}}, "Origin"},
		{"null origin", "", http.Header{"Origin": {"null"}}, "Origin"},
		{"same host, other port", "", http.Header{"Origin": {"http://127.0.0.1:1"}}, "Origin"},
		{"foreign origin, same-origin fetch site", "", http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"same-origin"}}, "Origin"},
		{"no origin, cross-site", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "Origin"},
		{"no origin, same-site", "", http.Header{"Sec-Fetch-Site": {"same-site"}}, "Origin"},
		{"no origin, typed by the user", "", http.Header{"Sec-Fetch-Site": {"none"}}, "Origin"},
		{"own origin, cross-site fetch", "", http.Header{"Origin": {self}, "Sec-Fetch-Site": {"cross-site"}}, "Origin"},
		{"text/plain from the own origin", "text/plain", http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}, "Content-Type"},
		{"text/plain from a program", "text/plain;charset=UTF-8", nil, "Content-Type"},
		{"form from a program", "application/x-www-form-urlencoded", nil, "Content-Type"},
		{"multipart form", "multipart/form-data; boundary=x", http.Header{"Origin": {self}}, "Content-Type"},
	}
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			for _, r := range changingRequests(t, echo) {
				r.header = f.header
				if f.ctype != "" {
					r.ctype = f.ctype
				}
				res := e.do(r)
				require.Equal(t, http.StatusForbidden, res.status, "%s %s: %s", r.method, r.path, res.raw)
				require.Equal(t, f.field, res.body["field"], res.raw)
				requireSecurityHeaders(t, res.header, r.path)
			}
		})
	}
	// A foreign page's websocket gets 403 too, however it says where it comes from.
	for _, h := range []http.Header{
		{"Origin": {"http://evil.example"}},
		{"Origin": {"null"}},
		{"Sec-Fetch-Site": {"cross-site"}},
	} {
		_, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(self, "http")+"/ws", h)
		require.Error(t, err, "%v", h)
		require.Equal(t, http.StatusForbidden, res.StatusCode, "%v", h)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Contains(t, string(b), `"field":"Origin"`)
		requireSecurityHeaders(t, res.Header, "/ws")
	}

	// The page's own request (what a browser sends) reaches the lattice, and it is the first
	// change there: none of the refused ones got that far.
	res := e.do(marker(h.ID(), http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}))
	require.Equal(t, http.StatusUnprocessableEntity, res.status, res.raw) // the host tried and failed
	log.expectOnlyMarker()
	e.requireUnchanged()

	// A program (no Origin, no Sec-Fetch-Site) is let through, and so is the page's websocket.
	res = e.do(marker(h.ID(), nil))
	require.Equal(t, http.StatusUnprocessableEntity, res.status, res.raw)
	log.expectOnlyMarker()
	e.dialWS().next(func(m dashboard.Message) bool { return m.Type == "view" })
}

// tokenEnv is a dashboard that requires testToken.
const testToken = "a-test-token-of-32-characters..."

func authBearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// TestTokenIsRequired: with a token set, every request for lattice data or a command, and the
// websocket, gets 403 without the token (none, a wrong one, another scheme, a forged or foreign
// session cookie) and changes nothing; the page's files, the probes and the session endpoints
// answer without it; the token as a bearer header or the session cookie from /api/login is let
// through.
func TestTokenIsRequired(t *testing.T) {
	e := newEnv(t, func(c *dashboard.Config) { c.Token = testToken })
	h := e.startHost()
	echo := echoActor(t)
	self := e.srv.URL
	browser := http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}
	log := e.recordChanges()

	other := newEnv(t, func(c *dashboard.Config) { c.Token = "another-token-another-token-xyz" })
	otherCookie := login(t, other, "another-token-another-token-xyz")

	reads := []request{
		{method: http.MethodGet, path: "/api/lattice"}, {method: http.MethodGet, path: "/api/hosts"},
		{method: http.MethodGet, path: "/api/actors"}, {method: http.MethodGet, path: "/api/providers"},
		{method: http.MethodGet, path: "/api/links"}, {method: http.MethodGet, path: "/api/events"},
		{method: http.MethodGet, path: "/api/apps"}, {method: http.MethodGet, path: "/api/apps/echo-app"},
		{method: http.MethodGet, path: "/api/no-such-endpoint"},
	}
	without := []struct {
		name   string
		header http.Header
	}{
		{"no token", http.Header{}},
		{"wrong token", authBearer("a-wrong-token-of-32-characters.")},
		{"token prefix", authBearer(testToken[:20])},
		{"basic auth", http.Header{"Authorization": {"Basic " + testToken}}},
		{"forged cookie", http.Header{"Cookie": {"trellis_dashboard_session=4102444800.AAAA"}}},
		{"token as cookie", http.Header{"Cookie": {"trellis_dashboard_session=" + testToken}}},
		{"another dashboard's session", http.Header{"Cookie": {otherCookie.String()}}},
	}
	for _, w := range without {
		t.Run(w.name, func(t *testing.T) {
			for _, r := range append(reads, changingRequests(t, echo)...) {
				r.header = w.header.Clone()
				for k, v := range browser {
					r.header[k] = v
				}
				res := e.do(r)
				require.Equal(t, http.StatusForbidden, res.status, "%s %s: %s", r.method, r.path, res.raw)
				require.Equal(t, "token", res.body["field"], res.raw)
				require.True(t, strings.HasPrefix(res.body["error"].(string), "token: "), res.raw)
				requireSecurityHeaders(t, res.header, r.path)
			}
			h := w.header.Clone()
			h.Set("Origin", self)
			_, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(self, "http")+"/ws", h)
			require.Error(t, err)
			require.Equal(t, http.StatusForbidden, res.StatusCode)
			res.Body.Close()
		})
	}
	res := e.do(request{method: http.MethodPost, path: "/api/login", ctype: "application/json", body: `{"token": "a-wrong-token-of-32-characters."}`, header: browser})
	require.Equal(t, http.StatusForbidden, res.status, res.raw)
	require.Empty(t, res.header.Values("Set-Cookie"), "a wrong token gets no session")
	// Logging in is a state change too: another site's page cannot log the browser in.
	res = e.do(request{method: http.MethodPost, path: "/api/login", ctype: "application/json", body: `{"token": "` + testToken + `"}`, header: http.Header{"Origin": {"http://evil.example"}}})
	require.Equal(t, http.StatusForbidden, res.status, res.raw)
	require.Empty(t, res.header.Values("Set-Cookie"))

	// What is public: the page (to ask for the token), the probes, the session endpoint.
	for _, p := range []string{"/", "/app.js", "/kit.js", "/style.css", "/api/livez", "/api/readyz", "/api/session"} {
		res := e.do(request{method: http.MethodGet, path: p})
		require.Equal(t, http.StatusOK, res.status, p)
		requireSecurityHeaders(t, res.header, p)
	}
	res = e.do(request{method: http.MethodGet, path: "/api/session"})
	require.Equal(t, map[string]any{"token_required": true, "authenticated": false}, res.body)

	// Nothing of the refused requests reached the lattice: the first change is the marker, sent
	// with the token.
	res = e.do(marker(h.ID(), authBearer(testToken)))
	require.Equal(t, http.StatusUnprocessableEntity, res.status, res.raw)
	log.expectOnlyMarker()
	e.requireUnchanged()

	// A program with the bearer token reads and commands.
	res = e.do(request{method: http.MethodGet, path: "/api/lattice", header: authBearer(testToken)})
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Len(t, res.body["hosts"], 1)

	// The page logs in once: an HttpOnly, SameSite=Strict cookie, that then opens everything.
	cookie := login(t, e, testToken)
	withCookie := http.Header{"Cookie": {cookie.String()}, "Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}
	res = e.do(request{method: http.MethodGet, path: "/api/session", header: withCookie})
	require.Equal(t, map[string]any{"token_required": true, "authenticated": true}, res.body)
	res = e.do(request{method: http.MethodGet, path: "/api/hosts", header: withCookie})
	require.Equal(t, http.StatusOK, res.status, res.raw)
	res = e.do(marker(h.ID(), withCookie))
	require.Equal(t, http.StatusUnprocessableEntity, res.status, res.raw)
	log.expectOnlyMarker()
	conn, wres, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(self, "http")+"/ws", withCookie)
	require.NoError(t, err)
	wres.Body.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	var first dashboard.Message
	require.NoError(t, conn.ReadJSON(&first))
	require.Equal(t, "view", first.Type)
	require.NoError(t, conn.Close())
	// A program's websocket with the bearer token.
	conn, wres, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(self, "http")+"/ws", authBearer(testToken))
	require.NoError(t, err)
	wres.Body.Close()
	require.NoError(t, conn.Close())

	// Logging out clears the cookie.
	res = e.do(request{method: http.MethodPost, path: "/api/logout", ctype: "application/json", body: `{}`, header: withCookie})
	require.Equal(t, http.StatusOK, res.status, res.raw)
	cleared := (&http.Response{Header: res.header}).Cookies()
	require.Len(t, cleared, 1)
	require.Equal(t, -1, cleared[0].MaxAge)
}

// login posts the token as the page does and returns the session cookie, checking its
// attributes.
func login(t *testing.T, e *env, token string) *http.Cookie {
	t.Helper()
	res := e.do(request{method: http.MethodPost, path: "/api/login", ctype: "application/json",
		body: `{"token": "` + token + `"}`, header: http.Header{"Origin": {e.srv.URL}, "Sec-Fetch-Site": {"same-origin"}}})
	require.Equal(t, http.StatusOK, res.status, res.raw)
	cookies := (&http.Response{Header: res.header}).Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	require.Equal(t, "trellis_dashboard_session", c.Name)
	require.True(t, c.HttpOnly, "scripts cannot read the session")
	require.Equal(t, http.SameSiteStrictMode, c.SameSite, "no other site's request carries it")
	require.Equal(t, "/", c.Path)
	require.NotContains(t, c.Value, token, "the cookie is not the token")
	return &http.Cookie{Name: c.Name, Value: c.Value}
}

func TestTokenIsChecked(t *testing.T) {
	for _, tt := range []struct{ token, msg string }{
		{"short", "5 characters, want at least 16"},
		{"sixteen chars ok", "character 8 is white space"},
		{"a-token-with-a-newline\n", "character 23 is white space"},
		{"ünicode-ünicode-ünicode", "character 1 is white space, a control character or not ASCII"},
	} {
		cfg := dashboard.DefaultConfig()
		cfg.Client = &lattice.Client{}
		cfg.Token = tt.token
		err := cfg.Validate()
		require.ErrorContains(t, err, "dashboard: token: "+tt.msg, tt.token)
	}
	require.NoError(t, dashboard.CheckToken(""))
	require.NoError(t, dashboard.CheckToken(testToken))
}
