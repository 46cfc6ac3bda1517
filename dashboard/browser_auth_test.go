package dashboard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
)

// TestBrowserLogsInOnce drives a dashboard that requires a token in a real browser: the page
// asks for the token (a wrong one is refused next to the form), then works end to end (it starts
// an actor) and stays logged in across a reload without asking again. A page of another origin
// in the same browser, which has the session cookie, cannot drive it: a text/plain POST, a JSON
// POST and a websocket all fail, and nothing reaches the lattice. No Content-Security-Policy
// violation, or any other error, is logged by the dashboard's page, while a violation made on
// purpose is seen.
func TestBrowserLogsInOnce(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t, func(c *dashboard.Config) { c.Token = testToken })
	h := e.startHost()
	echo := echoActor(t)
	dir := artifacts(t)

	b.do("open the dashboard", chromedp.Navigate(e.srv.URL+"/"))
	b.waitFor("the page asks for the token", `!document.querySelector('#login').hidden`)
	require.NotEqual(t, "Live", b.eval(`document.querySelector('#status-text').textContent`), "no stream without the token")
	b.screenshot(dir, "dashboard-login.png")

	b.do("log in with a wrong token",
		chromedp.SetValue(chromedp.CSS(`#login-form input[name=token]`), "a-wrong-token-of-32-characters."),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
	)
	b.waitFor("the form says it is wrong", `(() => {
		const m = document.querySelector('#login-msg');
		return !m.hidden && m.classList.contains('error') && m.textContent.includes('wrong token');
	})()`)
	require.Equal(t, "false", b.eval(`String(document.querySelector('#login').hidden)`))

	b.do("log in",
		chromedp.SetValue(chromedp.CSS(`#login-form input[name=token]`), testToken),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
	)
	b.waitFor("the login form goes", `document.querySelector('#login').hidden`)
	b.waitFor("the page is live", `document.querySelector('#status-text').textContent === 'Live'`)
	b.waitFor("the page shows the host", fmt.Sprintf(`!!document.querySelector('#hosts-table tr[data-host-id=%q]')`, h.ID()))
	require.Equal(t, "", b.eval(`document.cookie`), "the page's scripts cannot read the session")
	require.Equal(t, "0", b.eval(`String(sessionStorage.length + localStorage.length)`), "the page keeps no token")

	b.do("start the actor",
		chromedp.SetValue(chromedp.CSS(`#start-actor input[name=ref]`), echo.Path),
		chromedp.SetValue(chromedp.CSS(`#start-actor select[name=host_id]`), h.ID()),
		chromedp.Click(chromedp.CSS(`#start-actor button[type=submit]`)),
	)
	b.waitFor("the form says it started", `document.querySelector('#start-actor-msg').classList.contains('ok')`)
	b.waitFor("the actors table shows echo", fmt.Sprintf(`!!document.querySelector('#actors-table tr[data-actor-id=%q]')`, echo.ID))
	b.screenshot(dir, "dashboard-logged-in.png")

	// Once: a reload keeps the session.
	b.do("reload", chromedp.Reload())
	b.waitFor("the page is live again", `document.querySelector('#status-text').textContent === 'Live'`)
	require.Equal(t, "true", b.eval(`String(document.querySelector('#login').hidden)`), "no second login")
	require.Equal(t, "false", b.eval(`String(document.querySelector('#logout').hidden)`))

	// A page of another origin on the same machine (same site, so the browser sends it the
	// SameSite=Strict cookie) tries the forgeries a browser lets it try.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>another site</title>`)
	}))
	t.Cleanup(evil.Close)
	require.NotEqual(t, strings.Split(evil.URL, ":")[2], strings.Split(e.srv.URL, ":")[2])
	require.Empty(t, b.pageProblems(), "the dashboard's page logged errors (a CSP violation among them?)")
	log := e.recordChanges()
	b.do("open the other page", chromedp.Navigate(evil.URL+"/"))
	b.eval(fmt.Sprintf(`(() => {
		const dash = %q, body = JSON.stringify({ref: %q, host_id: %q});
		window.results = {};
		fetch(dash + '/api/actors', {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body})
			.then(() => { window.results.text = 'answered'; }, (e) => { window.results.text = 'failed: ' + e; });
		fetch(dash + '/api/actors', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json'}, body})
			.then((r) => { window.results.json = 'status ' + r.status; }, (e) => { window.results.json = 'failed: ' + e; });
		const ws = new WebSocket(dash.replace('http', 'ws') + '/ws');
		ws.onopen = () => { window.results.ws = 'open'; };
		ws.onclose = () => { window.results.ws = window.results.ws || 'refused'; };
		return 'sent';
	})()`, e.srv.URL, echo.Path, h.ID()))
	b.waitFor("the forgeries are answered", `!!(window.results.text && window.results.json && window.results.ws)`)
	// The opaque POST is sent; its answer (403) the page never sees: Cross-Origin-Resource-Policy
	// keeps it from another origin, so the fetch fails.
	require.Contains(t, b.eval(`window.results.text`), "failed")
	require.Contains(t, b.eval(`window.results.json`), "failed", "the JSON POST never passes the CORS preflight")
	require.Equal(t, "refused", b.eval(`window.results.ws`))
	res := e.do(marker(h.ID(), authBearer(testToken)))
	require.Equal(t, http.StatusUnprocessableEntity, res.status, res.raw)
	log.expectOnlyMarker()
	v := e.view()
	require.Len(t, v.Actors, 1)
	require.Equal(t, 1, v.Actors[0].Instances, "the forged start added no instance")

	// Back on the dashboard: still logged in, and its page logged no error and no CSP violation.
	// (The other page's console has the browser's CORS errors: not the dashboard's.)
	b.do("back to the dashboard", chromedp.Navigate(e.srv.URL+"/"))
	mark := len(b.pageProblems())
	b.waitFor("live without a login", `document.querySelector('#status-text').textContent === 'Live' && document.querySelector('#login').hidden`)
	b.do("log out", chromedp.Click(chromedp.CSS(`#logout`)))
	b.waitFor("the page asks for the token again", `!document.querySelector('#login').hidden`)

	// The link `trellis up` prints logs in by itself, and the token leaves the address bar.
	b.do("open the token link", chromedp.Navigate(e.srv.URL+"/#token="+testToken))
	b.waitFor("live without the form", `document.querySelector('#status-text').textContent === 'Live' && document.querySelector('#login').hidden`)
	require.Equal(t, e.srv.URL+"/", b.eval(`window.location.href`))
	require.Empty(t, b.pageProblems()[mark:], "the page logged errors (a CSP violation among them?)")

	// The check above sees violations: an inline script, which the policy forbids, is reported.
	b.eval(`(() => {
		const s = document.createElement('script');
		s.textContent = 'window.inlineRan = true';
		document.head.append(s);
		return 'ok';
	})()`)
	require.Eventually(t, func() bool {
		for _, p := range b.pageProblems()[mark:] {
			if strings.Contains(p, "Content Security Policy") {
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "a CSP violation reaches the console: %v", b.pageProblems())
	require.Equal(t, "undefined", b.eval(`typeof window.inlineRan`), "the inline script did not run")
}
