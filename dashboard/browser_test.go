package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// chromium finds Debian's chromium (or another Chrome). Without one the test fails in CI and is
// skipped elsewhere, saying what to install.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: install it (Debian: apt-get install -y chromium) to run the browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab with its own profile, closed when the test ends. Uncaught
// exceptions and console errors of the page are collected.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx}
	// Start the browser now (the first Run's context lives as long as the browser).
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)))
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// The browser logs every 4xx answer as a network error; the API answers 4xx on purpose.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs the steps, failing the test with what the page said when one fails.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	// Generous: CI machines run other packages' tests at the same time.
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage problems: %v\npage messages: %s", what, err, b.pageProblems(), b.text(`.form-msg:not([hidden])`))
	}
}

// text returns the text of the visible elements matching sel, for failure messages.
func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`Array.from(document.querySelectorAll(%q)).map(e => e.id + ": " + e.textContent).join("\n")`, sel)))
	return s
}

// waitFor polls the page until the JavaScript expression is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))(ctx, t)
		return err
	}))
}

// eval runs JavaScript in the page and returns its string result.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	require.NoError(b.t, err, expr)
	return s
}

// screenshot saves a full-page PNG under the artifacts directory and returns its path.
func (b *browser) screenshot(dir, name string) string {
	b.t.Helper()
	// The page at rest: scrolled to the top, no row still flashing as new.
	b.waitFor("the page settles", `!document.querySelector('.new')`)
	b.eval(`window.scrollTo(0, 0); 'ok'`)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	path := filepath.Join(dir, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
	return path
}

func (b *browser) pageProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// artifacts is where screenshots go: $TRELLIS_ARTIFACTS, else a temp dir of the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TRELLIS_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestBrowserDrivesTheLattice is the seed workflow in a real browser: open the dashboard, start
// the echo actor and the httpserver provider from the page, define the link from the form, watch
// the tables follow without a reload, and reach the actor over HTTP. Then a bad reference shows
// the host's error next to the form, and everything keeps serving.
func TestBrowserDrivesTheLattice(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t)
	h := e.startHost(func(c *host.Config) {
		c.Labels = map[string]string{"zone": "laptop", "env": "dev"}
	})
	echo := echoActor(t)
	par := httpserverArchive(t)
	port := freePort(t)
	dir := artifacts(t)

	b.do("open the dashboard", chromedp.Navigate(e.srv.URL+"/"))
	b.waitFor("the page shows the host", fmt.Sprintf(`!!document.querySelector('#hosts-table tr[data-host-id=%q]')`, h.ID()))
	b.waitFor("the page is live", `document.querySelector('#status-text').textContent === 'Live'`)
	require.Equal(t, "env=dev zone=laptop", b.eval(fmt.Sprintf(
		`Array.from(document.querySelectorAll('#hosts-table tr[data-host-id=%q] .chip')).map(c => c.textContent).join(' ')`, h.ID())))
	// A mark that survives only as long as the page is not reloaded.
	b.eval(`window.trellisNoReload = 'still here'; 'ok'`)

	// Start the echo actor from its file; the host choice is left to the auction.
	b.do("start the actor",
		chromedp.SetValue(chromedp.CSS(`#start-actor input[name=ref]`), echo.Path),
		chromedp.Click(chromedp.CSS(`#start-actor button[type=submit]`)),
	)
	b.waitFor("the actors table shows echo", fmt.Sprintf(`(() => {
		const tr = document.querySelector('#actors-table tr[data-actor-id=%q]');
		return !!tr && tr.textContent.includes('echo') && tr.querySelector('input.scale').value === '1';
	})()`, echo.ID))
	b.waitFor("the form says it started", `document.querySelector('#start-actor-msg').classList.contains('ok')`)

	// Start the httpserver provider from its archive, on the host chosen in the list.
	b.do("start the provider",
		chromedp.SetValue(chromedp.CSS(`#start-provider input[name=ref]`), par.Path),
		chromedp.SetValue(chromedp.CSS(`#start-provider select[name=host_id]`), h.ID()),
		chromedp.Click(chromedp.CSS(`#start-provider button[type=submit]`)),
	)
	b.waitFor("the providers table shows httpserver", fmt.Sprintf(`(() => {
		const tr = document.querySelector('#providers-table tr[data-provider-id=%q]');
		return !!tr && tr.textContent.includes('httpserver') && tr.textContent.includes('wasmcloud:httpserver');
	})()`, par.ID))

	// The health column follows the host's health checks.
	b.waitFor("the provider turns healthy", fmt.Sprintf(
		`document.querySelector('#providers-table tr[data-provider-id=%q]')?.dataset.status === 'healthy'`, par.ID))

	// Define the link: actor and provider from the lists, the contract prefilled from the
	// provider's claims, the address as a KEY=VALUE line.
	b.do("choose the actor and the provider",
		chromedp.SetValue(chromedp.CSS(`#put-link select[name=actor_id]`), echo.ID),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const sel = document.querySelector('#put-link select[name=provider]');
			sel.value = Array.from(sel.options).find(o => o.dataset.id === %q).value;
			sel.dispatchEvent(new Event('change', {bubbles: true}));
		})()`, par.ID)),
	)
	require.Equal(t, "wasmcloud:httpserver", b.eval(`document.querySelector('#put-link input[name=contract_id]').value`),
		"the contract is prefilled from the provider's claims")
	require.Equal(t, "default", b.eval(`document.querySelector('#put-link input[name=link_name]').value`))
	b.do("define the link",
		chromedp.SetValue(chromedp.CSS(`#put-link textarea[name=values]`), "ADDRESS=127.0.0.1:"+strconv.Itoa(port)),
		chromedp.Click(chromedp.CSS(`#put-link button[type=submit]`)),
	)
	b.waitFor("the links table shows the link", fmt.Sprintf(`(() => {
		const tr = document.querySelector('#links-table tr[data-actor-id=%q][data-provider-id=%q]');
		return !!tr && tr.textContent.includes('ADDRESS=127.0.0.1:%d') && tr.textContent.includes('unsigned');
	})()`, echo.ID, par.ID, port))
	b.waitFor("the form says it linked", `document.querySelector('#put-link-msg').classList.contains('ok')`)

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	require.Eventually(t, func() bool {
		code, body, err := httpGet(url)
		return err == nil && code == http.StatusOK && body == echoAnswer
	}, 60*time.Second, 50*time.Millisecond, "GET %s answers the echo", url)

	// Scale from the table row.
	b.do("scale the actor to 2",
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] input.scale`, echo.ID)), "2"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] button.scale-btn`, echo.ID))),
	)
	b.waitFor("the row shows 2 instances", fmt.Sprintf(`(() => {
		const tr = document.querySelector('#actors-table tr[data-actor-id=%q]');
		return tr.querySelector('input.scale').value === '2' && !tr.querySelector('input.scale').dataset.dirty;
	})()`, echo.ID))
	b.waitFor("the row shows the live instances, at most the count", fmt.Sprintf(`(() => {
		const live = document.querySelector('#actors-table tr[data-actor-id=%q] .live');
		return /^\d+ in use · \d+ idle · max 2$/.test(live.textContent);
	})()`, echo.ID))
	b.waitFor("the hosts table counts them", fmt.Sprintf(
		`document.querySelector('#hosts-table tr[data-host-id=%q]').textContent.includes('2 inst.')`, h.ID()))

	b.waitFor("the event log shows the starts and the link", `(() => {
		const types = Array.from(document.querySelectorAll('#events li')).map(li => li.dataset.type);
		return ['actor_started', 'provider_started', 'linkdef_set', 'health_check_passed'].every(t => types.includes(t));
	})()`)
	require.Equal(t, "1", b.eval(`String(document.querySelectorAll('#hosts-table tbody tr[data-host-id]').length)`))
	require.Equal(t, "still here", b.eval(`window.trellisNoReload`), "the page was never reloaded")

	// An app as a reconciler on the host would have it, for the picture: two versions, the newer
	// deployed and running, and the host holding the reconciler lease.
	deployedApp(t, e, h.ID())
	b.waitFor("the Applications section shows the app", `document.querySelector('#apps-table tr[data-app="echo-app"]')?.dataset.state === 'deployed'`)
	shot := b.screenshot(dir, "dashboard.png")
	if os.Getenv("TRELLIS_UPDATE_SCREENSHOT") == "1" {
		png, err := os.ReadFile(shot)
		require.NoError(t, err)
		docs := filepath.Join(latticetest.ModuleRoot(t), "docs", "dashboard.png")
		require.NoError(t, os.WriteFile(docs, png, 0o644))
		t.Logf("updated %s", docs)
	}

	// A bad reference: the host's error shows next to the form.
	b.do("start a bad reference",
		chromedp.SetValue(chromedp.CSS(`#start-actor input[name=ref]`), badRef),
		chromedp.Click(chromedp.CSS(`#start-actor button[type=submit]`)),
	)
	b.waitFor("the error shows next to the start form", `(() => {
		const m = document.querySelector('#start-actor-msg');
		return !m.hidden && m.classList.contains('error');
	})()`)
	hostErr := e.startFailure("actor_start_failed", "actor_ref", badRef)
	msg := b.eval(`document.querySelector('#start-actor-msg').textContent`)
	require.Contains(t, msg, hostErr, "the page shows the host's error")
	require.Contains(t, msg, badRef)
	require.Equal(t, "true", b.eval(`document.querySelector('#start-actor input[name=ref]').getAttribute('aria-invalid')`),
		"the field at fault is marked")
	b.waitFor("the event log shows the failure", `document.querySelector('#events li')?.dataset.type === 'actor_start_failed'`)
	b.screenshot(dir, "dashboard-error.png")

	// The host keeps serving, and the page is still live.
	code, body, err := httpGet(url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, echoAnswer, body)
	require.Equal(t, http.StatusOK, e.get("/api/livez", nil))
	require.Equal(t, "Live", b.eval(`document.querySelector('#status-text').textContent`))
	require.Equal(t, "still here", b.eval(`window.trellisNoReload`))

	// Delete the link from its row: the first click asks, the second deletes.
	del := chromedp.CSS(fmt.Sprintf(`#links-table tr[data-actor-id=%q] button.danger`, echo.ID))
	b.do("delete the link", chromedp.Click(del))
	require.Equal(t, "Confirm delete", b.eval(fmt.Sprintf(`document.querySelector('#links-table tr[data-actor-id=%q] button.danger').textContent`, echo.ID)))
	b.do("confirm", chromedp.Click(del))
	b.waitFor("the link row goes", fmt.Sprintf(`!document.querySelector('#links-table tr[data-actor-id=%q]')`, echo.ID))
	require.Equal(t, "still here", b.eval(`window.trellisNoReload`))

	// A link the claims say cannot work is defined, and the form says why it will not work.
	b.do("define a link for a contract neither side has",
		chromedp.SetValue(chromedp.CSS(`#put-link input[name=contract_id]`), "wasmcloud:keyvalue"),
		chromedp.Click(chromedp.CSS(`#put-link button[type=submit]`)),
	)
	b.waitFor("the form warns", `(() => {
		const m = document.querySelector('#put-link-msg');
		return !m.hidden && m.classList.contains('warn');
	})()`)
	warning := b.eval(`document.querySelector('#put-link-msg').textContent`)
	require.Contains(t, warning, "implements wasmcloud:httpserver, not wasmcloud:keyvalue")
	require.Contains(t, warning, "not signed with the wasmcloud:keyvalue capability")
	b.screenshot(dir, "dashboard-warning.png")
	require.Empty(t, b.pageProblems(), "the page logged errors")
	require.False(t, strings.Contains(b.eval(`document.body.textContent`), "undefined"), "no undefined rendered")
}
