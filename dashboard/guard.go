package dashboard

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The guards every request passes, in this order (routes): security headers on every answer,
// the Host check (DNS rebinding), the Origin check of state-changing requests and of the
// websocket (cross-site request forgery), then the token (auth.go). docs/dashboard.md, section
// Security, says what each protects against.

// contentSecurityPolicy allows the page's own files and its websocket, nothing else: no inline
// script or style, no other site's resources, no framing, no form posts.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"

// securityHeaders sets the headers every answer carries, the refusals of the other guards
// included.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses requests whose Host header names a host the dashboard does not serve: a
// page of another site that rebinds its DNS name to this address cannot drive the lattice.
func (d *Dashboard) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.hostAllowed(r.Host) {
			writeError(w, &apiError{Status: http.StatusForbidden,
				Msg: fmt.Sprintf("host name %q is not served here: open the dashboard by IP address or localhost, or add the name to its allowed hosts", r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (d *Dashboard) hostAllowed(hostport string) bool {
	name := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if name == "" || name == "localhost" || strings.HasSuffix(name, ".localhost") || net.ParseIP(name) != nil {
		return true
	}
	for _, a := range d.cfg.AllowedHosts {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "."), name) {
			return true
		}
	}
	return false
}

// stateChanging reports whether a request may change something: every method but GET, HEAD and
// OPTIONS. The websocket is a GET and is checked on its own (checkOrigin).
func stateChanging(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// checkOrigin refuses a state-changing request, and a websocket upgrade, that a page of another
// origin sent (crossSite says how it tells), and a state-changing request whose body has a type
// any page may send to another site without asking (forgeable).
func (d *Dashboard) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stateChanging(r) || isWebsocket(r) {
			if why := crossSite(r); why != "" {
				writeError(w, &apiError{Status: http.StatusForbidden, Field: "Origin", Msg: why})
				return
			}
		}
		if stateChanging(r) {
			if ct := r.Header.Get("Content-Type"); forgeable(ct) {
				writeError(w, &apiError{Status: http.StatusForbidden, Field: "Content-Type",
					Msg: fmt.Sprintf("Content-Type %q: a type any web page can send to another site, refused; the dashboard takes application/json (a manifest also application/yaml)", ct)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// forgeable reports whether a Content-Type is one of the three a browser sends to another site
// without a CORS preflight (an HTML form or a "simple" fetch). Other wrong types are the
// handlers' 415.
func forgeable(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// crossSite says why r does not come from the dashboard's own page, or "" when it does (or
// comes from a client that is not a browser):
//
//   - an Origin header must name the origin the request was sent to (its host and port are the
//     Host header's; "null", from sandboxed frames and some redirects, never does);
//   - without an Origin, a Sec-Fetch-Site header, which every current browser sends, must say
//     "same-origin";
//   - a request with neither comes from a program (curl, a script) or a browser too old to send
//     either; such a browser cannot send a JSON body to another site without CORS, which the
//     dashboard never allows, so the Content-Type check still stops it. Programs are let through
//     to the token check.
//
// A Sec-Fetch-Site other than "same-origin" is refused even with a matching Origin: "same-site"
// is a page on a sibling host name, "none" a request the user typed or bookmarked.
func crossSite(r *http.Request) string {
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	if origin != "" {
		u, err := url.Parse(origin)
		if err != nil || origin == "null" || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Sprintf("Origin %q: requests that change the lattice are taken only from the dashboard's own page (%s)", origin, r.Host)
		}
	}
	if site != "" && site != "same-origin" {
		return fmt.Sprintf("Sec-Fetch-Site %q: requests that change the lattice are taken only from the dashboard's own page", site)
	}
	return ""
}

// isWebsocket reports whether r asks for a websocket upgrade.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
