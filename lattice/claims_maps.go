package lattice

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UnmarshalJSON decodes actor claims, accepting the 2019 flat form (caps, hash, tags at the top
// level instead of under "wascap") and dropping empty capabilities and tags, so `caps: [""]`
// means no capabilities.
func (c *ActorClaims) UnmarshalJSON(data []byte) error {
	type plain ActorClaims // no methods, so no recursion
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	var flat struct {
		Wascap    json.RawMessage `json:"wascap"`
		Name      *string         `json:"name"`
		Hash      *string         `json:"hash"`
		Caps      []string        `json:"caps"`
		Tags      []string        `json:"tags"`
		Rev       *int            `json:"rev"`
		Ver       *string         `json:"ver"`
		CallAlias *string         `json:"call_alias"`
	}
	if err := json.Unmarshal(data, &flat); err != nil {
		return fmt.Errorf("flat actor claims: %w", err)
	}
	if noObject(flat.Wascap) && (flat.Hash != nil || flat.Caps != nil || flat.Tags != nil) {
		p.Actor = ActorMetadata{
			Name: deref(flat.Name), Hash: deref(flat.Hash), Caps: flat.Caps, Tags: flat.Tags,
			Ver: deref(flat.Ver), CallAlias: deref(flat.CallAlias),
		}
		if flat.Rev != nil {
			p.Actor.Rev = *flat.Rev
		}
	}
	p.Actor.Caps = nonEmpty(p.Actor.Caps)
	p.Actor.Tags = nonEmpty(p.Actor.Tags)
	*c = ActorClaims(p)
	return nil
}

func noObject(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nonEmpty drops blank entries; the result is nil when nothing is left.
func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// HasCap reports whether the actor is allowed to use the contract (such as wasmcloud:keyvalue).
func (c *ActorClaims) HasCap(contract string) bool {
	return contract != "" && slices.Contains(c.Actor.Caps, contract)
}

// Revision is rev when positive, else iat: the revision upstream hosts report.
func (c *ActorClaims) Revision() int { return revisionOrIAT(c.Actor.Rev, c.IssuedAt) }

// Revision is rev when positive, else iat: the revision upstream hosts report.
func (c *ProviderClaims) Revision() int { return revisionOrIAT(c.Provider.Rev, c.IssuedAt) }

func revisionOrIAT(rev int, iat int64) int {
	if rev > 0 {
		return rev
	}
	return int(iat)
}

// StringMap is the claims entry of a get.claims reply and of a CLAIMS_{pk} KV value; every value
// is a string and contract_id is empty for actors.
func (c *ActorClaims) StringMap() map[string]string {
	return map[string]string{
		"call_alias":  c.Actor.CallAlias,
		"iss":         c.Issuer,
		"name":        c.Actor.Name,
		"caps":        strings.Join(c.Actor.Caps, ","),
		"rev":         strconv.Itoa(c.Revision()),
		"tags":        strings.Join(c.Actor.Tags, ","),
		"version":     c.Actor.Ver,
		"sub":         c.Subject,
		"contract_id": "",
	}
}

// StringMap is the claims entry of a get.claims reply for a provider: contract_id is the capid,
// caps, tags and call_alias are empty.
func (c *ProviderClaims) StringMap() map[string]string {
	return map[string]string{
		"call_alias":  "",
		"iss":         c.Issuer,
		"name":        c.Provider.Name,
		"caps":        "",
		"rev":         strconv.Itoa(c.Revision()),
		"tags":        "",
		"version":     c.Provider.Ver,
		"sub":         c.Subject,
		"contract_id": c.Provider.CapID,
	}
}

// ClaimsTokenField is the key of a CLAIMS_{pk} entry that carries the JWT the entry's fields come
// from (a Trellis extension, listed in docs/compat.md): readers take the fields from the verified
// token, never from the entry alone.
const ClaimsTokenField = "jwt"

// ErrUnverifiedClaims means a CLAIMS_{pk} entry of the lattice bucket has no token that verifies
// for its key, or fields its token does not say. Readers ignore such an entry and report it.
var ErrUnverifiedClaims = errors.New("unverified claims entry")

// StoreEntry is the CLAIMS_{pk} value of the claims: the get.claims string map and, under
// ClaimsTokenField, the token the claims were read from or signed as.
func (c *ActorClaims) StoreEntry() map[string]string { return withToken(c.StringMap(), c.Token) }

// StoreEntry is the CLAIMS_{pk} value of the claims, as for actors.
func (c *ProviderClaims) StoreEntry() map[string]string { return withToken(c.StringMap(), c.Token) }

func withToken(m map[string]string, token string) map[string]string {
	m[ClaimsTokenField] = token
	return m
}

// VerifyClaimsToken checks the token of an actor's or a provider's claims, as a CLAIMS_ entry
// carries it: the signature and times hold at now, the issuer is an account key (A…) and the
// subject a module (M…) or service (V…) key. It returns the subject and the get.claims string map
// of the verified claims. The module or archive the claims sign is not at hand, so its hash is not
// checked: a verified entry says who signed which claims for a key, not that a module matches.
func VerifyClaimsToken(token string, now time.Time) (subject string, claims map[string]string, err error) {
	if strings.TrimSpace(token) == "" {
		return "", nil, errors.New("no claims token")
	}
	t, err := decodeJWT(token)
	if err != nil {
		return "", nil, err
	}
	var c interface {
		StringMap() map[string]string
		claimsBase() *Claims
	}
	switch {
	case IsValidPublicKey(PrefixModule, t.sub):
		c = &ActorClaims{}
	case IsValidPublicKey(PrefixService, t.sub):
		c = &ProviderClaims{}
	default:
		return "", nil, fmt.Errorf("claims subject %s is neither a module (M…) nor a service (V…) key", short(t.sub))
	}
	if err := ParseJWT(token, c, now); err != nil {
		return "", nil, err
	}
	base := c.claimsBase()
	if err := CheckPublicKey(PrefixAccount, base.Issuer); err != nil {
		return "", nil, fmt.Errorf("claims issuer: %w", err)
	}
	return base.Subject, c.StringMap(), nil
}

// verifyClaimsEntry checks a CLAIMS_{pk} entry and returns the claims it may be taken for: those
// of its token, which must verify (VerifyClaimsToken) for the key's subject; every field the
// entry also states must be the token's. Errors wrap ErrUnverifiedClaims and say why.
func verifyClaimsEntry(key string, entry map[string]string, now time.Time) (map[string]string, error) {
	subject := strings.TrimPrefix(key, ClaimsKeyPrefix)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrUnverifiedClaims, key, fmt.Sprintf(format, args...))
	}
	token, ok := entry[ClaimsTokenField]
	if !ok || strings.TrimSpace(token) == "" {
		return nil, fail("no %q token: the fields of an unsigned entry are not taken", ClaimsTokenField)
	}
	sub, verified, err := VerifyClaimsToken(token, now)
	if err != nil {
		return nil, fail("its token does not verify: %v", err)
	}
	if sub != subject {
		return nil, fail("its token is for %s, not for the entry's key", sub)
	}
	for _, k := range slices.Sorted(maps.Keys(verified)) {
		if v, ok := entry[k]; ok && v != verified[k] {
			return nil, fail("field %s is %q, but its token says %q", k, short(v), short(verified[k]))
		}
	}
	return verified, nil
}

// EventMap is the "claims" field of an actor_started event. Lists are never null.
func (c *ActorClaims) EventMap() map[string]any { return c.eventMap(time.Now()) }

func (c *ActorClaims) eventMap(now time.Time) map[string]any {
	return map[string]any{
		"call_alias":       c.Actor.CallAlias,
		"caps":             orEmpty(c.Actor.Caps),
		"expires_human":    humanStamp(c.Expires, now, "never"),
		"issuer":           c.Issuer,
		"name":             c.Actor.Name,
		"not_before_human": humanStamp(c.NotBefore, now, "immediately"),
		"revision":         c.Revision(),
		"tags":             orEmpty(c.Actor.Tags),
		"version":          c.Actor.Ver,
	}
}

// EventMap is the "claims" field of a provider_started event (the keys upstream hosts send).
func (c *ProviderClaims) EventMap() map[string]any { return c.eventMap(time.Now()) }

func (c *ProviderClaims) eventMap(now time.Time) map[string]any {
	return map[string]any{
		"expires_human":    humanStamp(c.Expires, now, "never"),
		"issuer":           c.Issuer,
		"name":             c.Provider.Name,
		"not_before_human": humanStamp(c.NotBefore, now, "immediately"),
		"tags":             []string{},
		"version":          c.Provider.Ver,
	}
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// humanStamp describes a JWT time relative to now the way upstream hosts do (chrono-humanize's
// rough form: "in 3 days", "an hour ago", "now"); zero means unset and gives unset.
func humanStamp(secs int64, now time.Time, unset string) string {
	if secs == 0 {
		return unset
	}
	d := secs - now.Unix()
	n := d
	if n < 0 {
		n = -n
	}
	if n <= 10 {
		return "now"
	}
	text := roughPeriod(n)
	if d < 0 {
		return text + " ago"
	}
	return "in " + text
}

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
	week   = 7 * day
	month  = 30 * day
	year   = 365 * day
)

func roughPeriod(n int64) string {
	switch {
	case n > 547*day:
		return plural(max(n/year, 2), "year")
	case n > 345*day:
		return "a year"
	case n > 45*day:
		return plural(max(n/month, 2), "month")
	case n > 29*day:
		return "a month"
	case n > 10*day+12*hour:
		return plural(max(n/week, 2), "week")
	case n > 6*day+12*hour:
		return "a week"
	case n > 36*hour:
		return plural(max(n/day, 2), "day")
	case n > 22*hour:
		return "a day"
	case n > 90*minute:
		return plural(max(n/hour, 2), "hour")
	case n > 45*minute:
		return "an hour"
	case n > 90:
		return plural(max(n/minute, 2), "minute")
	case n > 45:
		return "a minute"
	}
	return plural(n, "second")
}

func plural(n int64, unit string) string { return strconv.FormatInt(n, 10) + " " + unit + "s" }
