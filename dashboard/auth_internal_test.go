package dashboard

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const internalToken = "an-internal-test-token-0123456789"

// TestSessionCookie: a session is taken until it expires, and only with the token that made it;
// a changed expiry or MAC is refused.
func TestSessionCookie(t *testing.T) {
	a := newAuthenticator(internalToken)
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	v := a.sessionValue(now.Add(sessionLifetime))
	require.True(t, a.sessionValid(v))

	now = now.Add(sessionLifetime - time.Second)
	require.True(t, a.sessionValid(v), "still valid a second before it expires")
	now = now.Add(time.Second)
	require.False(t, a.sessionValid(v), "expired")

	exp, mac, _ := strings.Cut(v, ".")
	later := a.sessionValue(now.Add(time.Hour))
	laterExp, _, _ := strings.Cut(later, ".")
	for name, forged := range map[string]string{
		"expiry moved":    laterExp + "." + mac,
		"mac changed":     exp + "." + mac[:len(mac)-2] + map[bool]string{true: "AA", false: "BB"}[mac[len(mac)-2:] != "AA"],
		"no mac":          exp + ".",
		"no dot":          exp + mac,
		"empty":           "",
		"another token's": newAuthenticator(internalToken + "x").sessionValue(now.Add(time.Hour)),
		"expiry not int":  "soon." + mac,
		"not base64":      laterExp + ".!!!",
		"token as cookie": internalToken,
	} {
		require.False(t, a.sessionValid(forged), name)
	}
	require.True(t, a.sessionValid(later))

	other := newAuthenticator(internalToken + "-changed")
	other.now = a.now
	require.False(t, other.sessionValid(later), "changing the token ends every session")
}

func TestCheckRequest(t *testing.T) {
	a := newAuthenticator(internalToken)
	for _, tt := range []struct {
		name, authz, cookie string
		want                error
	}{
		{"nothing", "", "", errNoToken},
		{"bearer", "Bearer " + internalToken, "", nil},
		{"bearer, any case", "bearer " + internalToken, "", nil},
		{"wrong bearer", "Bearer " + internalToken + "x", "", errWrongToken},
		{"empty bearer", "Bearer ", "", errWrongToken},
		{"wrong bearer wins over a good cookie", "Bearer nope", a.sessionValue(time.Now().Add(time.Hour)), errWrongToken},
		{"cookie", "", a.sessionValue(time.Now().Add(time.Hour)), nil},
		{"expired cookie", "", a.sessionValue(time.Now().Add(-time.Second)), errExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/lattice", nil)
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", sessionCookie+"="+tt.cookie)
			}
			require.Equal(t, tt.want, a.check(r))
		})
	}
	r := httptest.NewRequest("GET", "/api/lattice", nil)
	r.Header.Set("Authorization", "Basic abc")
	require.ErrorContains(t, a.check(r), `authorization scheme "Basic": want Bearer <token>`)
	var none *authenticator
	require.NoError(t, none.check(r), "no token: everything passes")
}

// FuzzSessionCookie: no cookie value panics the check, and only values the dashboard made pass.
func FuzzSessionCookie(f *testing.F) {
	a := newAuthenticator(internalToken)
	good := a.sessionValue(time.Now().Add(time.Hour))
	for _, s := range []string{good, "", ".", "1.", "99999999999999999999.AAAA", good + "x", internalToken} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if a.sessionValid(v) && v != good {
			exp, _, _ := strings.Cut(v, ".")
			require.Equal(t, a.sessionValue(time.Unix(mustInt(t, exp), 0)), v, "only a value the dashboard made passes")
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', s)
		n = n*10 + int64(c-'0')
	}
	return n
}

// FuzzCrossSite: no Origin or Sec-Fetch-Site value panics the check, and one is taken only when
// it names the request's own host.
func FuzzCrossSite(f *testing.F) {
	for _, s := range [][2]string{{"http://127.0.0.1:4000", "same-origin"}, {"null", ""}, {"", "cross-site"}, {"http://evil.example", ""}, {"http://127.0.0.1:4000/x", ""}, {"%zz", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, origin, site string) {
		r := httptest.NewRequest("POST", "http://127.0.0.1:4000/api/actors", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Sec-Fetch-Site", site)
		if crossSite(r) == "" && r.Header.Get("Origin") != "" {
			require.True(t, strings.HasPrefix(strings.ToLower(r.Header.Get("Origin")), "http://127.0.0.1:4000") ||
				strings.HasPrefix(strings.ToLower(r.Header.Get("Origin")), "https://127.0.0.1:4000"), origin)
		}
	})
}
