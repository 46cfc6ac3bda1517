package lattice

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
)

// Invocation errors, for branching with errors.Is.
var (
	ErrForgedInvocation = errors.New("invocation failed anti-forgery check")
	ErrMalformedMsgpack = errors.New("malformed msgpack")
)

// MaxInlinePayload is the largest msg carried inside an invocation; larger ones are chunked
// through the lattice's object store.
const MaxInlinePayload = 900 * 1024

// Entity is one end of an invocation (WasmCloudEntity upstream).
type Entity struct {
	PublicKey  string `msgpack:"public_key" json:"public_key"`
	LinkName   string `msgpack:"link_name" json:"link_name"`
	ContractID string `msgpack:"contract_id" json:"contract_id"`
}

// IsActor reports whether the entity is an actor (its key starts with M).
func (e Entity) IsActor() bool {
	return e.PublicKey != "" && (e.PublicKey[0] == 'M' || e.PublicKey[0] == 'm')
}

// URL is the entity's wasmbus URL (PROTOCOL.md §7).
func (e Entity) URL() string { return string(e.appendURL(make([]byte, 0, 128))) }

// appendURL appends the entity's wasmbus URL: an actor's key, or a provider's contract id with
// ':' → '/' and ' ' → '_', lowercased, then its link name with ' ' → '_', lowercased, then its key.
func (e Entity) appendURL(b []byte) []byte {
	b = append(b, "wasmbus://"...)
	if e.IsActor() {
		return append(b, e.PublicKey...)
	}
	b = appendURLPart(b, e.ContractID, true)
	b = append(b, '/')
	b = appendURLPart(b, e.LinkName, false)
	b = append(b, '/')
	return append(b, e.PublicKey...)
}

func appendURLPart(b []byte, s string, colons bool) []byte {
	for _, r := range s {
		switch {
		case r == ':' && colons:
			b = append(b, '/')
		case r == ' ':
			b = append(b, '_')
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r)+('a'-'A'))
		case r < 0x80:
			b = append(b, byte(r))
		default:
			b = append(b, strings.ToLower(string(r))...)
		}
	}
	return b
}

// Invocation is the RPC envelope sent on wasmbus.rpc subjects.
type Invocation struct {
	Origin        Entity            `msgpack:"origin"`
	Target        Entity            `msgpack:"target"`
	Operation     string            `msgpack:"operation"`
	Msg           []byte            `msgpack:"msg"`
	ID            string            `msgpack:"id"`
	EncodedClaims string            `msgpack:"encoded_claims"`
	HostID        string            `msgpack:"host_id"`
	ContentLength *uint64           `msgpack:"content_length,omitempty"`
	TraceContext  map[string]string `msgpack:"traceContext,omitempty"`
}

// InvocationResponse answers an Invocation.
type InvocationResponse struct {
	Msg           []byte  `msgpack:"msg"`
	InvocationID  string  `msgpack:"invocation_id"`
	Error         string  `msgpack:"error,omitempty"`
	ContentLength *uint64 `msgpack:"content_length,omitempty"`
}

// NewInvocation builds and signs an invocation with the cluster key.
func NewInvocation(cluster *KeyPair, hostID string, origin, target Entity, operation string, msg []byte) (*Invocation, error) {
	if msg == nil {
		msg = []byte{}
	}
	inv := &Invocation{
		Origin:    origin,
		Target:    target,
		Operation: operation,
		Msg:       msg,
		ID:        uuid.NewString(),
		HostID:    hostID,
	}
	if err := inv.Sign(cluster); err != nil {
		return nil, err
	}
	return inv, nil
}

// TargetURL is the target entity URL followed by "/" and the operation.
func (inv *Invocation) TargetURL() string {
	b := inv.Target.appendURL(make([]byte, 0, 128))
	b = append(b, '/')
	return string(append(b, inv.Operation...))
}

// Sign (re)computes the anti-forgery claims with the cluster key.
func (inv *Invocation) Sign(cluster *KeyPair) error {
	originURL, targetURL := inv.Origin.URL(), inv.TargetURL()
	hash := invocationHash(originURL, targetURL, inv.Operation, inv.Msg)
	tok, err := signInvocationClaims(cluster, inv.ID, originURL, targetURL, hash)
	if err != nil {
		return fmt.Errorf("sign invocation %s: %w", inv.Operation, err)
	}
	inv.EncodedClaims = tok
	return nil
}

// Validate runs the anti-forgery checks: signature, issuer among clusterIssuers, times (see
// InvocationLifetime), URLs and the hash over origin, target, operation and msg. An invocation
// whose payload is still in the object store (msg empty, content_length above 0) has no payload
// to hash: Validate refuses it; read the payload into Msg first (Server does). Errors wrap
// ErrForgedInvocation. Validate does not remember invocations: a Server refuses replays.
func (inv *Invocation) Validate(clusterIssuers []string, now time.Time) error {
	v, err := inv.validate(clusterIssuers, now)
	if err != nil {
		return err
	}
	if inv.chunked() {
		return fmt.Errorf("%w: invocation %s carries no payload (%d bytes in the object store) to check its hash against",
			ErrForgedInvocation, inv.ID, *inv.ContentLength)
	}
	return inv.checkHash(v)
}

// validated is what validate found in an invocation's claims.
type validated struct {
	originURL, targetURL string // the invocation's, equal to the claims'
	hash                 string // the claims' hash of the payload
	expires              int64  // the second after which the invocation is no longer accepted
}

// chunked reports whether the invocation's payload travels through the object store.
func (inv *Invocation) chunked() bool {
	return len(inv.Msg) == 0 && inv.ContentLength != nil && *inv.ContentLength > 0
}

// validate runs every check of Validate but the hash, which it returns with the invocation's
// expiry.
func (inv *Invocation) validate(clusterIssuers []string, now time.Time) (validated, error) {
	clusterTables.trust(clusterIssuers)
	claims, err := parseInvocationClaims(inv.EncodedClaims, now)
	if err != nil {
		return validated{}, fmt.Errorf("%w: %w", ErrForgedInvocation, err)
	}
	trusted := false
	for _, iss := range clusterIssuers {
		if iss == claims.Issuer {
			trusted = true
			break
		}
	}
	if !trusted {
		return validated{}, fmt.Errorf("%w: issuer %s is not a cluster issuer of this lattice", ErrForgedInvocation, claims.Issuer)
	}
	if claims.Subject != inv.ID {
		return validated{}, fmt.Errorf("%w: claims are for invocation %s, not %s", ErrForgedInvocation, claims.Subject, inv.ID)
	}
	exp, err := invocationWindow(claims, now.Unix())
	if err != nil {
		return validated{}, fmt.Errorf("%w: %w", ErrForgedInvocation, err)
	}
	originURL, targetURL := inv.Origin.URL(), inv.TargetURL()
	if claims.Invocation.TargetURL != targetURL {
		return validated{}, fmt.Errorf("%w: target url %q does not match claims %q", ErrForgedInvocation, targetURL, claims.Invocation.TargetURL)
	}
	if claims.Invocation.OriginURL != originURL {
		return validated{}, fmt.Errorf("%w: origin url %q does not match claims %q", ErrForgedInvocation, originURL, claims.Invocation.OriginURL)
	}
	return validated{originURL: originURL, targetURL: targetURL, hash: claims.Invocation.Hash, expires: exp}, nil
}

// checkHash compares the hash of the invocation's URLs, operation and whole payload with the
// claims' hash.
func (inv *Invocation) checkHash(v validated) error {
	if h := invocationHash(v.originURL, v.targetURL, inv.Operation, inv.Msg); h != v.hash {
		what := "payload"
		if inv.ContentLength != nil && *inv.ContentLength > MaxInlinePayload {
			what = "chunked payload, as read from the object store,"
		}
		return fmt.Errorf("%w: hash %s of the invocation's %s does not match the claims' hash %s", ErrForgedInvocation, h, what, v.hash)
	}
	return nil
}

// Encode serializes the invocation as msgpack (the bytes Marshal writes, without reflection).
func (inv *Invocation) Encode() ([]byte, error) { return inv.appendTo(nil), nil }

// DecodeInvocation parses a msgpack invocation; errors wrap ErrMalformedMsgpack. msg may share
// memory with data.
func DecodeInvocation(data []byte) (*Invocation, error) {
	inv, err := decodeInvocationFast(data)
	if err != nil {
		inv = &Invocation{}
		if err := Unmarshal(data, inv); err != nil {
			return nil, fmt.Errorf("decode invocation: %w", err)
		}
	}
	if inv.Operation == "" {
		return nil, fmt.Errorf("decode invocation: %w: no operation", ErrMalformedMsgpack)
	}
	return inv, nil
}

// Encode serializes the response as msgpack (the bytes Marshal writes, without reflection).
func (r *InvocationResponse) Encode() ([]byte, error) {
	if r.Msg == nil {
		r.Msg = []byte{}
	}
	return r.appendTo(nil), nil
}

// DecodeInvocationResponse parses a msgpack invocation response; msg may share memory with data.
func DecodeInvocationResponse(data []byte) (*InvocationResponse, error) {
	if r, err := decodeResponseFast(data); err == nil {
		return r, nil
	}
	var r InvocationResponse
	if err := Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode invocation response: %w", err)
	}
	return &r, nil
}

// Marshal encodes v as msgpack with structs as maps of named fields.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("msgpack")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes msgpack into v; errors wrap ErrMalformedMsgpack. Input whose declared sizes
// exceed what it holds is refused before anything is allocated for it.
func Unmarshal(data []byte, v any) error {
	if err := checkMsgpack(data); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMsgpack, err)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMsgpack, err)
	}
	return nil
}
