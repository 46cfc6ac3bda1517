package lattice

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// WascapRevision is the wascap_revision SignJWT writes when the claims leave it zero. Upstream
// wascap writes 3 and only checks module hashes of tokens with a revision of 3 or more.
const WascapRevision = 3

// jwtHeader is the one header wascap writes.
const jwtHeader = `{"typ":"jwt","alg":"Ed25519"}`

var (
	b64url       = base64.RawURLEncoding
	jwtHeaderB64 = b64url.EncodeToString([]byte(jwtHeader))
)

// claimsCarrier is implemented by *Claims and by pointers to structs embedding Claims.
type claimsCarrier interface{ claimsBase() *Claims }

func (c *Claims) claimsBase() *Claims { return c }

// SignJWT encodes claims as a wascap JWT signed by issuer. When claims is a pointer to Claims or
// to a struct embedding it, empty iss, iat, jti and wascap_revision are filled in first (in place);
// actor and provider claims get their Token.
func SignJWT(claims any, issuer *KeyPair) (string, error) {
	if issuer == nil {
		return "", errors.New("sign jwt: no issuer key")
	}
	if !issuer.HasPrivateKey() {
		return "", fmt.Errorf("sign jwt with %s: %w", short(issuer.PublicKey()), ErrNoPrivateKey)
	}
	if rv := reflect.ValueOf(claims); !rv.IsValid() || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
		return "", errors.New("sign jwt: no claims")
	}
	if cc, ok := claims.(claimsCarrier); ok {
		if err := fillClaims(cc.claimsBase(), issuer); err != nil {
			return "", err
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign jwt: encode claims: %w", err)
	}
	signing := jwtHeaderB64 + "." + b64url.EncodeToString(payload)
	sig, err := issuer.Sign([]byte(signing))
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	token := signing + "." + b64url.EncodeToString(sig)
	if tc, ok := claims.(tokenCarrier); ok {
		tc.setToken(token)
	}
	return token, nil
}

func fillClaims(c *Claims, issuer *KeyPair) error {
	pub := issuer.PublicKey()
	switch c.Issuer {
	case "":
		c.Issuer = pub
	case pub:
	default:
		return fmt.Errorf("sign jwt: claims iss %s is not the signing key %s", short(c.Issuer), short(pub))
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	if c.ID == "" {
		id, err := newTokenID()
		if err != nil {
			return fmt.Errorf("sign jwt: %w", err)
		}
		c.ID = id
	}
	if c.WascapRevision == 0 {
		c.WascapRevision = WascapRevision
	}
	return nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newTokenID returns 22 random base62 characters, the shape of a nuid.
func newTokenID() (string, error) {
	id, err := appendTokenID(make([]byte, 0, tokenIDLen))
	return string(id), err
}

const tokenIDLen = 22

// appendTokenID appends a new token id (see newTokenID) to dst.
func appendTokenID(dst []byte) ([]byte, error) {
	var buf [64]byte
	n := 0
	for n < tokenIDLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return dst, fmt.Errorf("token id: %w", err)
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to keep the distribution uniform
				continue
			}
			dst = append(dst, base62[b%62])
			if n++; n == tokenIDLen {
				break
			}
		}
	}
	return dst, nil
}

// ParseJWT checks a wascap JWT and decodes its payload into into (which may be nil): the header
// must name Ed25519, the signature must verify with the iss key (of any kind), and exp/nbf must
// hold at now. Errors wrap ErrMalformedToken, ErrBadSignature, ErrExpired or ErrNotYetValid. Actor and
// provider claims get their Token.
func ParseJWT(token string, into any, now time.Time) error {
	t, err := decodeJWT(token)
	if err != nil {
		return err
	}
	if err := t.verify(now); err != nil {
		return err
	}
	if err := t.decodeInto(into); err != nil {
		return err
	}
	if err := t.sameStandard(into); err != nil {
		return err
	}
	if tc, ok := into.(tokenCarrier); ok {
		tc.setToken(strings.TrimSpace(token))
	}
	return nil
}

// rawJWT is a token split and decoded but not yet verified.
type rawJWT struct {
	signing string // header.payload, what the signature covers
	payload []byte // JSON
	sig     []byte
	iss     string
	sub     string
	exp     int64 // 0 when absent
	nbf     int64 // 0 when absent
}

// decodeJWT splits a token and decodes its header and payload without verifying anything.
func decodeJWT(token string) (*rawJWT, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrMalformedToken)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformedToken, len(parts))
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url: %v", ErrMalformedToken, err)
	}
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url: %v", ErrMalformedToken, err)
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url: %v", ErrMalformedToken, err)
	}
	t := &rawJWT{signing: parts[0] + "." + parts[1], payload: payload, sig: sig}
	if err := t.readStandard(); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeSegment decodes base64url, tolerating padding.
func decodeSegment(s string) ([]byte, error) {
	return b64url.DecodeString(strings.TrimRight(s, "="))
}

func checkHeader(raw []byte) error {
	var h struct {
		Typ *string `json:"typ"`
		Alg *string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("%w: header is not a JSON object: %v", ErrMalformedToken, err)
	}
	if h.Alg == nil {
		return fmt.Errorf("%w: header has no alg", ErrMalformedToken)
	}
	if !strings.EqualFold(*h.Alg, "Ed25519") {
		return fmt.Errorf("%w: header alg %q, want Ed25519", ErrMalformedToken, short(*h.Alg))
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "jwt") {
		return fmt.Errorf("%w: header typ %q, want jwt", ErrMalformedToken, short(*h.Typ))
	}
	return nil
}

// readStandard reads iss, sub, exp and nbf from the payload.
func (t *rawJWT) readStandard() error {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(t.payload))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return fmt.Errorf("%w: payload is not a JSON object", ErrMalformedToken)
	}
	var err error
	if t.iss, err = stringField(m, "iss"); err != nil {
		return err
	}
	if t.sub, err = stringField(m, "sub"); err != nil {
		return err
	}
	if t.exp, err = timeField(m, "exp"); err != nil {
		return err
	}
	if t.nbf, err = timeField(m, "nbf"); err != nil {
		return err
	}
	if t.iss == "" {
		return fmt.Errorf("%w: payload has no iss", ErrMalformedToken)
	}
	if t.sub == "" {
		return fmt.Errorf("%w: payload has no sub", ErrMalformedToken)
	}
	return nil
}

func stringField(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformedToken, name)
	}
	return s, nil
}

func timeField(m map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%w: %s is not a number", ErrMalformedToken, name)
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("%w: %s is not a number", ErrMalformedToken, name)
	}
	switch {
	case f >= math.MaxInt64: // float64(MaxInt64) is 2^63, which does not convert
		return math.MaxInt64, nil
	case f <= math.MinInt64:
		return math.MinInt64, nil
	}
	return int64(f), nil
}

// verify checks the signature with the iss key, then exp and nbf against now.
func (t *rawJWT) verify(now time.Time) error {
	key, err := keyPairFromPublicKey(t.iss)
	if err != nil {
		return fmt.Errorf("%w: iss: %w", ErrMalformedToken, err)
	}
	var ok bool
	if key.prefix == PrefixCluster {
		ok = clusterTables.verify(t.iss, key.pub, []byte(t.signing), t.sig)
	} else {
		ok = key.Verify([]byte(t.signing), t.sig) == nil
	}
	if !ok {
		return badSignature(t.iss)
	}
	return checkTimes(t.exp, t.nbf, now)
}

func badSignature(iss string) error {
	return fmt.Errorf("%w: token was not signed by its issuer %s", ErrBadSignature, short(iss))
}

func checkTimes(exp, nbf int64, now time.Time) error {
	secs := now.Unix()
	if exp != 0 && exp < secs {
		return fmt.Errorf("%w: expired at %s (now %s)", ErrExpired, stamp(exp), stamp(secs))
	}
	if nbf != 0 && secs < nbf {
		return fmt.Errorf("%w: valid from %s (now %s)", ErrNotYetValid, stamp(nbf), stamp(secs))
	}
	return nil
}

func stamp(secs int64) string { return time.Unix(secs, 0).UTC().Format(time.RFC3339) }

// sameStandard checks that the claims decoded into into name the iss, sub, exp and nbf that were
// verified. json.Unmarshal matches keys without regard to case and keeps the last: a payload with
// "iss" (the key that signed) followed by "ISS" (a trusted one) would otherwise decode to an
// issuer that never signed it.
func (t *rawJWT) sameStandard(into any) error {
	cc, ok := into.(claimsCarrier)
	if !ok {
		return nil
	}
	c := cc.claimsBase()
	if c.Issuer != t.iss || c.Subject != t.sub || c.Expires != t.exp || c.NotBefore != t.nbf {
		return fmt.Errorf("%w: payload repeats iss, sub, exp or nbf under another case", ErrMalformedToken)
	}
	return nil
}

func (t *rawJWT) decodeInto(into any) error {
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(t.payload, into); err != nil {
		return fmt.Errorf("%w: claims do not have the expected shape: %v", ErrMalformedToken, err)
	}
	return nil
}
