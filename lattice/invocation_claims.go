package lattice

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// InvocationHash is the uppercase hex SHA-256 of origin URL ‖ target URL ‖ operation ‖ msg, the
// hash the anti-forgery claims of an invocation carry (PROTOCOL.md §7).
func InvocationHash(originURL, targetURL, operation string, msg []byte) string {
	h := sha256.New()
	h.Write([]byte(originURL))
	h.Write([]byte(targetURL))
	h.Write([]byte(operation))
	h.Write(msg)
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// SignInvocationClaims signs the anti-forgery claims of an invocation with a cluster key:
// iss = the cluster key (C…), sub = the invocation id.
func SignInvocationClaims(cluster *KeyPair, invocationID, originURL, targetURL, hash string) (string, error) {
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
	claims := &InvocationClaims{
		Claims:     Claims{Subject: invocationID},
		Invocation: InvocationMetadata{TargetURL: targetURL, OriginURL: originURL, Hash: hash},
	}
	tok, err := SignJWT(claims, cluster)
	if err != nil {
		return "", fmt.Errorf("sign invocation claims: %w", err)
	}
	return tok, nil
}

// ParseInvocationClaims verifies invocation claims (signature, times) and that they were issued
// by a cluster key. Whether that key is trusted is the caller's decision.
func ParseInvocationClaims(token string, now time.Time) (*InvocationClaims, error) {
	var c InvocationClaims
	if err := ParseJWT(token, &c, now); err != nil {
		return nil, fmt.Errorf("invocation claims: %w", err)
	}
	if err := CheckPublicKey(PrefixCluster, c.Issuer); err != nil {
		return nil, fmt.Errorf("invocation claims issuer: %w", err)
	}
	return &c, nil
}
