package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// deployAppRequest is POST /api/apps/{name}/deploy; no version deploys the latest.
type deployAppRequest struct {
	Version string `json:"version"`
}

// manifestTypes are the Content-Types POST /api/apps reads. None is one a page of another site
// may send without CORS (text/plain, forms), so the endpoint is as safe as the JSON ones.
var manifestTypes = []string{"application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

// listApps: GET /api/apps.
func (d *Dashboard) listApps(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.state.applications())
}

// getApp: GET /api/apps/{name}.
func (d *Dashboard) getApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, a := range d.state.applications().Apps {
		if a.Name == name {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	writeError(w, &apiError{Status: http.StatusNotFound, Msg: fmt.Sprintf("no app %s", name)})
}

// putApp: POST /api/apps with a manifest (YAML or JSON): stores it as a new version of its app
// and deploys that version.
func (d *Dashboard) putApp(w http.ResponseWriter, r *http.Request) {
	if e := checkContentType(r, manifestTypes...); e != nil {
		writeError(w, e)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, jsonError(err))
		return
	}
	if strings.TrimSpace(string(body)) == "" {
		writeError(w, &apiError{Status: http.StatusBadRequest, Msg: "request body: empty, want an application manifest (YAML or JSON)"})
		return
	}
	m, err := oam.Parse(body) // validates, too
	if err != nil {
		writeError(w, &apiError{Status: http.StatusBadRequest, Msg: err.Error()})
		return
	}
	store, e := d.appStore()
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	put, err := store.Put(ctx, m, "") // its validation passes: Parse made the same checks
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	before, err := store.Get(ctx, put.Name)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if _, err := store.Deploy(ctx, put.Name, put.Version); err != nil {
		writeError(w, storeError(err))
		return
	}
	msg := fmt.Sprintf("stored version %s of app %s and deployed it", put.Version, put.Name)
	switch {
	case !put.Created && before.Deployed == put.Version:
		msg = fmt.Sprintf("version %s of app %s is stored and deployed already", put.Version, put.Name)
	case !put.Created:
		msg = fmt.Sprintf("deployed version %s of app %s (stored already)", put.Version, put.Name)
	}
	writeJSON(w, http.StatusOK, result{Status: "done", ID: put.Name, Version: put.Version, Message: msg, Warnings: d.reconcilerWarning(put.Name)})
}

// deployApp: POST /api/apps/{name}/deploy {version?}. Deploying an older version rolls back.
func (d *Dashboard) deployApp(w http.ResponseWriter, r *http.Request) {
	var req deployAppRequest
	store, name, before, ok := d.appCommand(w, r, &req)
	if !ok {
		return
	}
	version := strings.TrimSpace(req.Version)
	if version != "" && version == before.Deployed {
		writeJSON(w, http.StatusOK, result{Status: "done", ID: name, Version: version,
			Message: fmt.Sprintf("version %s of app %s is deployed already", version, name)})
		return
	}
	got, err := store.Deploy(r.Context(), name, version)
	if err != nil {
		e := storeError(err)
		if errors.Is(err, app.ErrNotFound) && version != "" {
			e.Field = "version"
		}
		writeError(w, e)
		return
	}
	msg := fmt.Sprintf("deployed version %s of app %s", got, name)
	if older(before, got, before.Deployed) {
		msg = fmt.Sprintf("rolled app %s back to version %s (from %s)", name, got, before.Deployed)
	}
	writeJSON(w, http.StatusOK, result{Status: "done", ID: name, Version: got, Message: msg, Warnings: d.reconcilerWarning(name)})
}

// undeployApp: POST /api/apps/{name}/undeploy (an empty body or {}).
func (d *Dashboard) undeployApp(w http.ResponseWriter, r *http.Request) {
	store, name, before, ok := d.appCommand(w, r, &struct{}{})
	if !ok {
		return
	}
	if before.Deployed == "" {
		writeJSON(w, http.StatusOK, result{Status: "done", ID: name, Message: fmt.Sprintf("app %s is not deployed", name)})
		return
	}
	if err := store.Undeploy(r.Context(), name); err != nil {
		writeError(w, storeError(err))
		return
	}
	writeJSON(w, http.StatusOK, result{Status: "done", ID: name, Version: before.Deployed,
		Message: fmt.Sprintf("undeployed app %s (was version %s)", name, before.Deployed), Warnings: d.reconcilerWarning(name)})
}

// appCommand reads a command on the app named in the path: its optional JSON body into req, the
// store, and the app's record as it is before the command. When it cannot, it answers why and
// reports false.
func (d *Dashboard) appCommand(w http.ResponseWriter, r *http.Request, req any) (*app.Store, string, *app.Record, bool) {
	name := r.PathValue("name")
	if e := firstError(decodeOptionalJSON(w, r, req), checkAppName(name)); e != nil {
		writeError(w, e)
		return nil, "", nil, false
	}
	store, e := d.appStore()
	if e != nil {
		writeError(w, e)
		return nil, "", nil, false
	}
	before, err := store.Get(r.Context(), name)
	if err != nil {
		writeError(w, storeError(err))
		return nil, "", nil, false
	}
	return store, name, before, true
}

// older reports whether version v comes before version than in the record's order.
func older(r *app.Record, v, than string) bool {
	at := func(name string) int {
		return slices.IndexFunc(r.Versions, func(x app.Version) bool { return x.Version == name })
	}
	i, j := at(v), at(than)
	return i >= 0 && j >= 0 && i < j
}

// appStore is the apps store, or why there is none.
func (d *Dashboard) appStore() (*app.Store, *apiError) {
	if d.cfg.JetStream == nil {
		return nil, &apiError{Status: http.StatusServiceUnavailable,
			Msg: "applications are not available: this dashboard has no JetStream connection"}
	}
	if s := d.apps.Load(); s != nil {
		return s, nil
	}
	msg := "the apps store is not open yet"
	if v := d.state.applications(); v.Error != "" {
		msg += ": " + v.Error
	}
	return nil, &apiError{Status: http.StatusServiceUnavailable, Msg: msg}
}

// reconcilerWarning says that nothing acts on a deployment while no reconciler runs.
func (d *Dashboard) reconcilerWarning(name string) []string {
	if d.state.reconciler() != "" {
		return nil
	}
	return []string{fmt.Sprintf("no reconciler is running: the lattice stays as it is until a host's reconciler takes the lease and acts on app %s", name)}
}

// storeError answers an error of the apps store.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, app.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Msg: err.Error()}
	case errors.Is(err, app.ErrVersionExists), errors.Is(err, app.ErrDeployed):
		return &apiError{Status: http.StatusConflict, Msg: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Msg: err.Error()}
	}
	return &apiError{Status: http.StatusBadGateway, Msg: err.Error()}
}

// checkAppName refuses a name that cannot be an app's (the store's key rule), as a 400.
func checkAppName(name string) *apiError {
	if err := app.CheckName(name); err != nil {
		return &apiError{Status: http.StatusBadRequest, Field: "name", Msg: "name: " + err.Error()}
	}
	return nil
}
