package lattice

import (
	"encoding/json"
	"errors"
	"time"
)

// Claims errors, for branching with errors.Is.
var (
	ErrUnsigned       = errors.New("module is not signed: no jwt or wasmcloud_jwt section")
	ErrHashMismatch   = errors.New("module hash does not match its claims")
	ErrExpired        = errors.New("claims have expired")
	ErrNotYetValid    = errors.New("claims are not yet valid")
	ErrMalformedToken = errors.New("malformed token")
)

// Claims are the standard fields of every wascap JWT.
type Claims struct {
	Expires        int64  `json:"exp,omitempty"`
	ID             string `json:"jti"`
	IssuedAt       int64  `json:"iat"`
	Issuer         string `json:"iss"`
	Subject        string `json:"sub"`
	NotBefore      int64  `json:"nbf,omitempty"`
	WascapRevision int    `json:"wascap_revision,omitempty"`
}

// ActorClaims are the claims embedded in an actor module.
type ActorClaims struct {
	Claims
	Actor ActorMetadata `json:"wascap"`

	// Token is the JWT these claims were read from (ParseJWT) or signed as (SignJWT); it is not
	// part of the payload. A CLAIMS_ entry carries it so that readers can verify the entry.
	Token string `json:"-"`
}

// ActorMetadata is the "wascap" object of actor claims.
type ActorMetadata struct {
	Name      string   `json:"name,omitempty"`
	Hash      string   `json:"hash"`
	Tags      []string `json:"tags,omitempty"`
	Caps      []string `json:"caps,omitempty"`
	Rev       int      `json:"rev,omitempty"`
	Ver       string   `json:"ver,omitempty"`
	CallAlias string   `json:"call_alias,omitempty"`
	Provider  bool     `json:"prov"`
}

// ProviderClaims are the claims of a provider archive (claims.jwt).
type ProviderClaims struct {
	Claims
	Provider ProviderMetadata `json:"wascap"`

	// Token is the JWT these claims were read from or signed as, as for actors.
	Token string `json:"-"`
}

// tokenCarrier is implemented by the claims that keep the token they came from.
type tokenCarrier interface{ setToken(string) }

func (c *ActorClaims) setToken(t string)    { c.Token = t }
func (c *ProviderClaims) setToken(t string) { c.Token = t }

// ProviderMetadata is the "wascap" object of provider claims.
type ProviderMetadata struct {
	Name         string            `json:"name,omitempty"`
	CapID        string            `json:"capid"`
	Vendor       string            `json:"vendor"`
	Rev          int               `json:"rev,omitempty"`
	Ver          string            `json:"ver,omitempty"`
	TargetHashes map[string]string `json:"target_hashes"`
	ConfigSchema json.RawMessage   `json:"config_schema,omitempty"`
}

// invocationClaims are the anti-forgery claims of an invocation, signed by a cluster key.
type invocationClaims struct {
	Claims
	Invocation invocationMetadata `json:"wascap"`
}

// invocationMetadata is the "wascap" object of invocation claims.
type invocationMetadata struct {
	TargetURL string `json:"target_url"`
	OriginURL string `json:"origin_url"`
	Hash      string `json:"hash"`
}

// linkClaims are the claims of a signed link (Trellis extension, PROTOCOL.md §10).
type linkClaims struct {
	Claims
	Link linkMetadata `json:"link"`
}

// linkMetadata is the "link" object of link claims.
type linkMetadata struct {
	ActorID    string `json:"actor_id"`
	ProviderID string `json:"provider_id"`
	LinkName   string `json:"link_name"`
	ContractID string `json:"contract_id"`
	ValuesHash string `json:"values_hash"`
}

// SignOptions bound the validity of claims being signed; zero values mean unbounded.
type SignOptions struct {
	Expires   time.Time
	NotBefore time.Time
}
