package lattice

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// invocationHash is the uppercase hex SHA-256 of origin URL ‖ target URL ‖ operation ‖ msg, the
// hash the anti-forgery claims of an invocation carry (PROTOCOL.md §7).
func invocationHash(originURL, targetURL, operation string, msg []byte) string {
	buf := getBuf()
	b := append(append(append((*buf)[:0], originURL...), targetURL...), operation...)
	var sum [sha256.Size]byte
	if len(msg) <= 16*1024 {
		sum = sha256.Sum256(append(b, msg...))
	} else {
		h := sha256.New()
		h.Write(b)
		h.Write(msg)
		h.Sum(sum[:0])
	}
	*buf = b
	putBuf(buf)
	const digits = "0123456789ABCDEF"
	var out [2 * sha256.Size]byte
	for i, c := range sum {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out[:])
}

// sigB64Len is the length of an ed25519 signature in unpadded base64url.
var sigB64Len = b64url.EncodedLen(ed25519.SignatureSize)

// signInvocationClaims signs the anti-forgery claims of an invocation with a cluster key:
// iss = the cluster key (C…), sub = the invocation id, exp = InvocationLifetime after iat.
//
// The token is what SignJWT makes of the invocationClaims (same header, same JSON bytes as
// json.Marshal, with a fresh jti, iat and exp and wascap_revision 3), written in one pass into one
// buffer.
func signInvocationClaims(cluster *KeyPair, invocationID, originURL, targetURL, hash string) (string, error) {
	if cluster == nil {
		return "", errors.New("sign invocation claims: no cluster key")
	}
	if cluster.Prefix() != PrefixCluster {
		return "", fmt.Errorf("sign invocation claims: %w: %s is a %s key, want a cluster key (C…)",
			ErrWrongKeyKind, short(cluster.PublicKey()), cluster.Prefix())
	}
	if invocationID == "" {
		return "", errors.New("sign invocation claims: empty invocation id")
	}
	if !cluster.HasPrivateKey() {
		return "", fmt.Errorf("sign invocation claims: sign jwt with %s: %w", short(cluster.PublicKey()), ErrNoPrivateKey)
	}
	var scratch [512]byte
	iat := time.Now().Unix()
	payload, err := appendInvocationPayload(scratch[:0], cluster, iat, iat+int64(InvocationLifetime/time.Second), invocationID, originURL, targetURL, hash)
	if err != nil {
		return "", fmt.Errorf("sign invocation claims: sign jwt: %w", err)
	}
	signed := len(jwtHeaderB64) + 1 + b64url.EncodedLen(len(payload))
	buf := make([]byte, signed+1+sigB64Len)
	copy(buf, jwtHeaderB64)
	buf[len(jwtHeaderB64)] = '.'
	b64url.Encode(buf[len(jwtHeaderB64)+1:signed], payload)
	// crypto/ed25519.Sign is the signer: an implementation of our own with the key expanded once
	// would save its per-call decoding of the public key, at the cost of owning a signer.
	sig := ed25519.Sign(cluster.priv, buf[:signed])
	buf[signed] = '.'
	b64url.Encode(buf[signed+1:], sig)
	return unsafe.String(unsafe.SliceData(buf), len(buf)), nil // buf is never written again
}

// parseInvocationClaims verifies invocation claims (signature, times) and that they were issued
// by a cluster key. Whether that key is trusted is the caller's decision.
//
// Tokens in the shape signInvocationClaims and upstream wascap write (compact JSON with the known
// keys, strings without escapes) take a fast path: one split, one decode of the payload without
// reflection, the cluster key's precomputed table. Every other token goes through ParseJWT. Both
// give the same result and the same error for every token.
func parseInvocationClaims(token string, now time.Time) (*invocationClaims, error) {
	if c, err, ok := parseInvocationFast(token, now); ok {
		return c, err
	}
	return parseInvocationGeneral(token, now)
}

// parseInvocationGeneral is parseInvocationClaims through ParseJWT.
func parseInvocationGeneral(token string, now time.Time) (*invocationClaims, error) {
	var c invocationClaims
	if err := ParseJWT(token, &c, now); err != nil {
		return nil, fmt.Errorf("invocation claims: %w", err)
	}
	if err := CheckPublicKey(PrefixCluster, c.Issuer); err != nil {
		return nil, fmt.Errorf("invocation claims issuer: %w", err)
	}
	return &c, nil
}

// maxFastPayload bounds the payload the fast path decodes (invocation claims are ~300 bytes).
const maxFastPayload = 4096

// parseInvocationFast is the fast path of parseInvocationClaims; ok is false when the token is not
// in the shape it reads, and the general path must decide. It answers only where the general path
// would reach the signature check of a cluster key, and then gives the general path's answer.
func parseInvocationFast(token string, now time.Time) (_ *invocationClaims, _ error, ok bool) {
	token = strings.TrimSpace(token)
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return nil, nil, false
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.') + dot1 + 1
	if dot2 == dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return nil, nil, false
	}
	if header := token[:dot1]; header != jwtHeaderB64 {
		raw, err := decodeSegment(header)
		if err != nil || checkHeader(raw) != nil {
			return nil, nil, false
		}
	}
	seg := strings.TrimRight(token[dot1+1:dot2], "=")
	sigSeg := strings.TrimRight(token[dot2+1:], "=")
	if len(seg) > b64url.EncodedLen(maxFastPayload) || len(sigSeg) != sigB64Len {
		return nil, nil, false
	}
	var sig [ed25519.SignatureSize]byte
	if n, err := b64url.Decode(sig[:], stringBytes(sigSeg)); err != nil || n != len(sig) {
		return nil, nil, false
	}
	buf := make([]byte, b64url.DecodedLen(len(seg)))
	n, err := b64url.Decode(buf, stringBytes(seg))
	if err != nil || n == 0 {
		return nil, nil, false
	}
	c := &invocationClaims{}
	// The claims' strings share buf, which is never written again.
	if !scanInvocationPayload(unsafe.String(unsafe.SliceData(buf), n), c) {
		return nil, nil, false
	}
	signing := stringBytes(token[:dot2])
	var verified bool
	if e := clusterTables.get(c.Issuer); e != nil {
		verified = e.verify(signing, sig[:])
	} else {
		prefix, pub, err := decodePublicKey(c.Issuer)
		if err != nil || prefix != PrefixCluster {
			return nil, nil, false
		}
		verified = len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, signing, sig[:])
	}
	if !verified {
		return nil, fmt.Errorf("invocation claims: %w", badSignature(c.Issuer)), true
	}
	if err := checkTimes(c.Expires, c.NotBefore, now); err != nil {
		return nil, fmt.Errorf("invocation claims: %w", err), true
	}
	return c, nil, true
}

// stringBytes is the bytes of s without a copy, for reading only.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
