package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Authentication with a token (Config.Token). When it is set, every request but the page's own
// files, the probes and the session endpoints must carry it, in one of two ways:
//
//   - Authorization: Bearer <token>, for programs (curl, scripts, a websocket client);
//   - the session cookie the page gets from POST /api/login, for the page.
//
// The page asks for the token once and sends it to /api/login, which answers with an HttpOnly,
// SameSite=Strict cookie. The page keeps nothing: a script (an injected one included) cannot read
// the cookie, the browser sends it on the API calls and on the websocket upgrade (which cannot
// carry an Authorization header from a browser), and never on a request another site starts. The
// cookie is a MAC of its expiry keyed by the token, so any host's dashboard with the same token
// takes it, nothing is stored on the server, and changing the token ends every session.

// MinTokenLength is the shortest token Config.Validate takes.
const MinTokenLength = 16

const (
	// sessionCookie is the name of the session cookie.
	sessionCookie = "trellis_dashboard_session"
	// sessionLifetime is how long a login lasts; the page asks for the token again after it.
	sessionLifetime = 12 * time.Hour
	// tokenField is the field of the 403 answered to a request without the token: the page
	// shows its login form when it sees it.
	tokenField = "token"
)

// CheckToken says what is wrong with a token for Config.Token: it must be long enough to
// resist guessing, and a header must be able to carry it. The empty token (none) is fine.
func CheckToken(token string) error {
	if token == "" {
		return nil
	}
	if len(token) < MinTokenLength {
		return fmt.Errorf("%d characters, want at least %d (e.g. openssl rand -hex 32)", len(token), MinTokenLength)
	}
	if i := strings.IndexFunc(token, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) }); i >= 0 {
		return fmt.Errorf("character %d is white space, a control character or not ASCII, which a header cannot carry", i+1)
	}
	return nil
}

// authenticator checks requests against the token. A nil authenticator (no token) lets every
// request through.
type authenticator struct {
	token [sha256.Size]byte // the token's hash: compared in constant time whatever the lengths
	key   []byte            // the session MAC key, derived from the token
	now   func() time.Time
}

func newAuthenticator(token string) *authenticator {
	if token == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("trellis dashboard session key"))
	return &authenticator{token: sha256.Sum256([]byte(token)), key: mac.Sum(nil), now: time.Now}
}

// tokenMatches compares a presented token with the configured one in constant time.
func (a *authenticator) tokenMatches(presented string) bool {
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], a.token[:]) == 1
}

// sessionValue is a cookie value valid until expires: "<unix seconds>.<MAC>".
func (a *authenticator) sessionValue(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(a.sessionMAC(exp))
}

func (a *authenticator) sessionMAC(exp string) []byte {
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(exp))
	return mac.Sum(nil)
}

// sessionValid checks a cookie value: its MAC (in constant time) and its expiry.
func (a *authenticator) sessionValid(v string) bool {
	exp, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	// Compared as the canonical text, not decoded: a decoder skips line breaks, so decoding
	// would take more than one spelling of a value.
	want := base64.RawURLEncoding.EncodeToString(a.sessionMAC(exp))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return false
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && a.now().Before(time.Unix(secs, 0))
}

// errNoToken and errWrongToken say why a request was refused.
var (
	errNoToken    = errors.New("no token: this dashboard requires its token (log in on the page, or send Authorization: Bearer <token>)")
	errWrongToken = errors.New("wrong token")
	errExpired    = errors.New("session expired or from another token: log in again")
)

// check reports why r does not carry the token, or nil when it does.
func (a *authenticator) check(r *http.Request) error {
	if a == nil {
		return nil
	}
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, tok, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return fmt.Errorf("authorization scheme %q: want Bearer <token>", scheme)
		}
		if !a.tokenMatches(strings.TrimSpace(tok)) {
			return errWrongToken
		}
		return nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if a.sessionValid(c.Value) {
			return nil
		}
		return errExpired
	}
	return errNoToken
}

// public reports whether a request is served without the token: the page's own files (they hold
// no lattice data, and the page must load to ask for the token), the probes (a kubelet has no
// token) and the session endpoints.
func public(r *http.Request) bool {
	switch r.URL.Path {
	case "/api/livez", "/api/readyz", "/api/session", "/api/login", "/api/logout":
		return true
	case "/ws":
		return false
	}
	return !strings.HasPrefix(r.URL.Path, "/api/")
}

// requireToken refuses, with 403, every request that is not public and does not carry the token.
func (d *Dashboard) requireToken(next http.Handler) http.Handler {
	if d.auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !public(r) {
			if err := d.auth.check(r); err != nil {
				writeError(w, &apiError{Status: http.StatusForbidden, Field: tokenField, Msg: "token: " + err.Error()})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sessionInfo is GET /api/session: whether a token is required and whether this request has it.
type sessionInfo struct {
	TokenRequired bool `json:"token_required"`
	Authenticated bool `json:"authenticated"`
}

func (d *Dashboard) session(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, sessionInfo{TokenRequired: d.auth != nil, Authenticated: d.auth.check(r) == nil})
}

// loginRequest is POST /api/login.
type loginRequest struct {
	Token string `json:"token"`
}

// login checks the token and answers with the session cookie.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if d.auth == nil {
		writeJSON(w, http.StatusOK, result{Status: "done", Message: "this dashboard requires no token"})
		return
	}
	if strings.TrimSpace(req.Token) == "" {
		writeError(w, &apiError{Status: http.StatusBadRequest, Field: tokenField, Msg: "token: required"})
		return
	}
	if !d.auth.tokenMatches(strings.TrimSpace(req.Token)) {
		d.log.Warn().Str("remote", r.RemoteAddr).Msg("dashboard login with a wrong token")
		writeError(w, &apiError{Status: http.StatusForbidden, Field: tokenField, Msg: "token: " + errWrongToken.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    d.auth.sessionValue(d.auth.now().Add(sessionLifetime)),
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	})
	writeJSON(w, http.StatusOK, result{Status: "done", Message: "logged in"})
}

// logout clears the session cookie.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, result{Status: "done", Message: "logged out"})
}
