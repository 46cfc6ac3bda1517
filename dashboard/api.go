package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// routes is the dashboard's HTTP surface (docs/dashboard.md lists it).
func (d *Dashboard) routes() http.Handler {
	static, err := fs.Sub(assets, "assets")
	if err != nil { // the directory is embedded at build time
		panic("dashboard: embedded assets: " + err.Error())
	}
	files := http.FileServerFS(static)

	mux := http.NewServeMux()
	mux.Handle("/", getOnly(noCache(files)))
	mux.HandleFunc("GET /ws", d.serveWS)

	mux.HandleFunc("GET /api/livez", d.livez)
	mux.HandleFunc("GET /api/session", d.session)
	mux.HandleFunc("POST /api/login", d.login)
	mux.HandleFunc("POST /api/logout", d.logout)
	mux.HandleFunc("GET /api/readyz", d.readyz)

	mux.HandleFunc("GET /api/lattice", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.view()) })
	mux.HandleFunc("GET /api/hosts", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.view().Hosts) })
	mux.HandleFunc("GET /api/actors", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.view().Actors) })
	mux.HandleFunc("GET /api/providers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.view().Providers)
	})
	mux.HandleFunc("GET /api/links", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.view().Links) })
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.events.list()) })

	mux.HandleFunc("POST /api/actors", d.startActor)
	mux.HandleFunc("POST /api/actors/scale", d.scaleActor)
	mux.HandleFunc("POST /api/actors/stop", d.stopActor)
	mux.HandleFunc("POST /api/providers", d.startProvider)
	mux.HandleFunc("POST /api/providers/stop", d.stopProvider)
	mux.HandleFunc("POST /api/links", d.putLink)
	mux.HandleFunc("DELETE /api/links", d.deleteLink)
	mux.HandleFunc("POST /api/links/delete", d.deleteLink)
	mux.HandleFunc("POST /api/actors/update", d.updateActor)

	mux.HandleFunc("GET /api/apps", d.listApps)
	mux.HandleFunc("GET /api/apps/{name}", d.getApp)
	mux.HandleFunc("POST /api/apps", d.putApp)
	mux.HandleFunc("POST /api/apps/{name}/deploy", d.deployApp)
	mux.HandleFunc("POST /api/apps/{name}/undeploy", d.undeployApp)

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "no endpoint " + r.Method + " " + r.URL.Path + " (docs/dashboard.md lists them)"})
	})
	return securityHeaders(d.checkHost(d.checkOrigin(d.requireToken(mux))))
}

// livez answers 200 while the process serves HTTP.
func (d *Dashboard) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"live": true})
}

// readyz answers 200 once the dashboard has a view of the lattice and NATS is connected, else 503
// with the reason.
func (d *Dashboard) readyz(w http.ResponseWriter, _ *http.Request) {
	if ok, why := d.readiness(); !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": why})
		return
	}
	if d.cfg.ReadyCheck != nil {
		if err := d.cfg.ReadyCheck(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true})
}

// getOnly answers 405 to anything but GET and HEAD.
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// noCache makes browsers revalidate the page's files, so an upgraded host serves its new page.
func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, errorBody{Error: e.Error(), Field: e.Field})
}
