package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
)

// TestBrowserAppsAndUpdate drives the Applications section and the actors' Update action in a
// real browser: the app's state follows what the reconciler writes, a rollback and an undeploy
// are done from the page, and an update of a running actor reports its new revision, then a
// failure next to the table.
func TestBrowserAppsAndUpdate(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t)
	h := e.startHost()
	rev1, rev2 := echoRevisions(t)
	store := e.appStore()
	ctx := context.Background()
	dir := artifacts(t)

	// Another client put two versions and deployed the newer one.
	for _, v := range []string{"v0.1.0", "v0.2.0"} {
		_, err := store.Put(ctx, parseManifest(t, echoAppYAML(v)), "")
		require.NoError(t, err)
	}
	_, err := store.Deploy(ctx, "echo-app", "v0.2.0")
	require.NoError(t, err)
	status, res := e.send("POST", "/api/actors", map[string]any{"ref": rev1.Path, "host_id": h.ID()})
	require.Equal(t, 200, status, "%+v", res)

	row := `document.querySelector('#apps-table tr[data-app="echo-app"]')`
	b.do("open the dashboard", chromedp.Navigate(e.srv.URL+"/"))
	b.waitFor("the app shows, pending", row+`?.dataset.state === 'pending'`)
	require.Contains(t, b.eval(`document.querySelector('#apps-reconciler').textContent`), "No reconciler is running")
	require.Contains(t, b.eval(row+`.textContent`), "no reconciler is running")
	require.Equal(t, "v0.2.0", b.eval(row+`.querySelector('.deployed-version').textContent`))
	require.Equal(t, "v0.2.0 · deployed|v0.1.0", b.eval(
		`Array.from(`+row+`.querySelectorAll('select.version-select option')).map(o => o.textContent).join('|')`))
	b.eval(`window.trellisNoReload = 'still here'; 'ok'`)

	// The reconciler reports: the badge follows without a reload.
	require.NoError(t, store.PutStatus(ctx, echoStatus("v0.2.0", app.StateFailed, "echo: pull registry.example.com/echo:0.2.0: unreachable", 0)))
	b.waitFor("the app turns failed", row+`.dataset.state === 'failed'`)
	require.Equal(t, "failed", b.eval(row+`.querySelector('.badge.bad').textContent`))
	require.Contains(t, b.eval(row+`.textContent`), "echo: pull registry.example.com/echo:0.2.0: unreachable")
	require.Contains(t, b.eval(row+`.querySelector('.components').textContent`), "0/2")

	// A host takes the lease: the section names it.
	lease, err := app.OpenLease(ctx, e.js, lattice.DefaultLattice, h.ID(), 30*time.Second, 1)
	require.NoError(t, err)
	held, err := lease.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	b.waitFor("the reconciler shows", fmt.Sprintf(`document.querySelector('#apps-reconciler').dataset.reconciler === %q`, h.ID()))
	b.screenshot(dir, "dashboard-apps.png")

	// Roll back from the page: pick the older version, Deploy.
	b.do("choose v0.1.0", chromedp.Evaluate[chromedp.Void](row+`.querySelector('select.version-select').value = 'v0.1.0';
		`+row+`.querySelector('select.version-select').dispatchEvent(new Event('change', {bubbles: true}))`))
	b.do("deploy it", chromedp.Click(chromedp.CSS(`#apps-table tr[data-app="echo-app"] button.deploy-btn`)))
	b.waitFor("the page says it rolled back", `document.querySelector('#apps-msg').classList.contains('ok')`)
	require.Contains(t, b.eval(`document.querySelector('#apps-msg').textContent`), "Rolled app echo-app back to version v0.1.0 (from v0.2.0)")
	b.waitFor("the row shows v0.1.0", row+`.querySelector('.deployed-version')?.textContent === 'v0.1.0'`)
	require.Equal(t, "pending", b.eval(row+`.dataset.state`), "the status is about v0.2.0")
	r, err := store.Get(ctx, "echo-app")
	require.NoError(t, err)
	require.Equal(t, "v0.1.0", r.Deployed)

	// Undeploy: the first click asks, the second undeploys.
	undeploy := chromedp.CSS(`#apps-table tr[data-app="echo-app"] button.undeploy-btn`)
	b.do("undeploy", chromedp.Click(undeploy))
	require.Equal(t, "Confirm undeploy", b.eval(row+`.querySelector('button.undeploy-btn').textContent`))
	b.do("confirm", chromedp.Click(undeploy))
	b.waitFor("the row says not deployed", row+`.textContent.includes('not deployed')`)
	require.Contains(t, b.eval(`document.querySelector('#apps-msg').textContent`), "Undeployed app echo-app (was version v0.1.0)")
	r, err = store.Get(ctx, "echo-app")
	require.NoError(t, err)
	require.Empty(t, r.Deployed)

	// Update the running actor from its row: the form asks for the new reference.
	actor := fmt.Sprintf(`document.querySelector('#actors-table tr[data-actor-id=%q]')`, rev1.ID)
	b.waitFor("the actor shows", actor+` !== null`)
	b.do("open the update form", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] button.update-btn`, rev1.ID))))
	form := actor + `.querySelector('form.update-form')`
	require.Equal(t, "false", b.eval(`String(`+form+`.hidden)`))
	require.Equal(t, rev1.Path, b.eval(form+`.elements.ref.value`), "prefilled with the running reference")
	b.do("update to revision 2",
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] form.update-form input[name=ref]`, rev1.ID)), rev2.Path),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] form.update-form button[type=submit]`, rev1.ID))),
	)
	b.waitFor("the page says it updated", `document.querySelector('#actors-msg').classList.contains('ok')`)
	require.Contains(t, b.eval(`document.querySelector('#actors-msg').textContent`), "(revision 2)")
	require.Equal(t, "true", b.eval(`String(`+form+`.hidden)`), "the form closes")
	b.waitFor("the row shows the new reference", actor+`.dataset.imageRef === `+fmt.Sprintf("%q", rev2.Path))
	b.waitFor("the event log shows the update", `!!document.querySelector('#events li[data-type=actor_updated]')`)

	// A failed update: the host's reason above the table, the field marked, the form open.
	b.do("open the update form again", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] button.update-btn`, rev1.ID))))
	b.do("update to a bad reference",
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] form.update-form input[name=ref]`, rev1.ID)), badRef),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#actors-table tr[data-actor-id=%q] form.update-form button[type=submit]`, rev1.ID))),
	)
	b.waitFor("the error shows", `document.querySelector('#actors-msg').classList.contains('error')`)
	msg := b.eval(`document.querySelector('#actors-msg').textContent`)
	require.Contains(t, msg, "could not update the actor")
	require.Contains(t, msg, e.updateFailure(badRef), "the host's reason")
	require.Equal(t, "true", b.eval(form+`.elements.ref.getAttribute('aria-invalid')`))
	require.Equal(t, "false", b.eval(`String(`+form+`.hidden)`))
	b.screenshot(dir, "dashboard-update-error.png")

	require.Equal(t, "still here", b.eval(`window.trellisNoReload`), "the page was never reloaded")
	require.Empty(t, b.pageProblems(), "the page logged errors")
	require.NotContains(t, b.eval(`document.body.textContent`), "undefined", "no undefined rendered")
}

// deployedApp stores the echo app at two versions with the newer deployed, its status as
// deployed, and the reconciler lease held by host, as a reconciler on that host would leave them.
func deployedApp(t *testing.T, e *env, host string) {
	t.Helper()
	ctx := context.Background()
	store := e.appStore()
	for _, v := range []string{"v0.1.0", "v0.2.0"} {
		put, err := store.Put(ctx, parseManifest(t, echoAppYAML(v)), "")
		require.NoError(t, err)
		_, err = store.Deploy(ctx, put.Name, put.Version)
		require.NoError(t, err)
	}
	st := echoStatus("v0.2.0", app.StateDeployed, "", 2)
	st.Reconciler = host
	require.NoError(t, store.PutStatus(ctx, st))
	lease, err := app.OpenLease(ctx, e.js, lattice.DefaultLattice, host, time.Minute, 1)
	require.NoError(t, err)
	held, err := lease.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
}
