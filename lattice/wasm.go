package lattice

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Custom sections that carry actor claims: wascap before 0.9 wrote "jwt", later "wasmcloud_jwt".
const (
	jwtSection       = "wasmcloud_jwt"
	legacyJWTSection = "jwt"
)

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// ErrMalformedWasm is wrapped by every error about a module that cannot be parsed.
var ErrMalformedWasm = errors.New("malformed wasm module")

// wasmSection is one top-level section of a module.
type wasmSection struct {
	id         byte
	start, end int    // the whole section, id byte included: module[start:end]
	name       string // custom sections only
	data       []byte // custom sections: the bytes after the name
}

func (s wasmSection) isJWT() bool {
	return s.id == 0 && (s.name == jwtSection || s.name == legacyJWTSection)
}

// parseSections splits a core wasm module into its top-level sections.
func parseSections(module []byte) ([]wasmSection, error) {
	if len(module) < len(wasmHeader) || !bytes.Equal(module[:4], wasmHeader[:4]) {
		return nil, fmt.Errorf("%w: no \\0asm magic", ErrMalformedWasm)
	}
	if !bytes.Equal(module[4:8], wasmHeader[4:]) {
		return nil, fmt.Errorf("%w: unsupported version % x (only core modules, version 1)", ErrMalformedWasm, module[4:8])
	}
	var sections []wasmSection
	for pos := len(wasmHeader); pos < len(module); {
		s := wasmSection{id: module[pos], start: pos}
		size, n, err := readU32(module[pos+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: section %d at offset %d: size: %v", ErrMalformedWasm, s.id, pos, err)
		}
		body := pos + 1 + n
		if uint64(size) > uint64(len(module)-body) {
			return nil, fmt.Errorf("%w: section %d at offset %d: size %d runs past the end of the module (%d bytes left)",
				ErrMalformedWasm, s.id, pos, size, len(module)-body)
		}
		s.end = body + int(size)
		if s.id == 0 {
			if err := s.readName(module[body:s.end]); err != nil {
				return nil, fmt.Errorf("%w: custom section at offset %d: %v", ErrMalformedWasm, pos, err)
			}
		}
		sections = append(sections, s)
		pos = s.end
	}
	return sections, nil
}

func (s *wasmSection) readName(body []byte) error {
	nameLen, n, err := readU32(body)
	if err != nil {
		return fmt.Errorf("name length: %v", err)
	}
	if uint64(nameLen) > uint64(len(body)-n) {
		return fmt.Errorf("name length %d runs past the end of the section", nameLen)
	}
	s.name = string(body[n : n+int(nameLen)])
	s.data = body[n+int(nameLen):]
	return nil
}

// readU32 decodes an unsigned LEB128 of at most 5 bytes, returning the value and its length.
func readU32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated LEB128")
		}
		c := b[i]
		if i == 4 && c&0xf0 != 0 {
			return 0, 0, errors.New("LEB128 overflows 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("LEB128 longer than 5 bytes")
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// ModuleHash is the uppercase hex SHA-256 of the module with every jwt and wasmcloud_jwt custom
// section cut out; all other bytes are hashed as they are.
func ModuleHash(module []byte) (string, error) {
	sections, err := parseSections(module)
	if err != nil {
		return "", err
	}
	return moduleHash(module, sections), nil
}

func moduleHash(module []byte, sections []wasmSection) string {
	h := sha256.New()
	from := 0
	for _, s := range sections {
		if s.isJWT() {
			h.Write(module[from:s.start])
			from = s.end
		}
	}
	h.Write(module[from:])
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// stripJWT returns a copy of the module without its jwt and wasmcloud_jwt sections.
func stripJWT(module []byte, sections []wasmSection) []byte {
	out := make([]byte, 0, len(module))
	from := 0
	for _, s := range sections {
		if s.isJWT() {
			out = append(out, module[from:s.start]...)
			from = s.end
		}
	}
	return append(out, module[from:]...)
}

// extractActorClaims returns the claims token embedded in a module and the name of the section
// it came from. A wasmcloud_jwt section wins over a jwt section; ErrUnsigned when there is none.
func extractActorClaims(module []byte) (token string, section string, err error) {
	sections, err := parseSections(module)
	if err != nil {
		return "", "", err
	}
	return extractToken(sections)
}

func extractToken(sections []wasmSection) (string, string, error) {
	var legacy *wasmSection
	for i, s := range sections {
		switch {
		case s.id == 0 && s.name == jwtSection:
			return strings.TrimSpace(string(s.data)), jwtSection, nil
		case s.id == 0 && s.name == legacyJWTSection && legacy == nil:
			legacy = &sections[i]
		}
	}
	if legacy == nil {
		return "", "", ErrUnsigned
	}
	return strings.TrimSpace(string(legacy.data)), legacyJWTSection, nil
}

// VerifyActor extracts and checks the claims of a signed module: signature, exp/nbf at now,
// subject a module key (M…), issuer an account key (A…), and the module hash.
func VerifyActor(module []byte, now time.Time) (*ActorClaims, error) {
	sections, err := parseSections(module)
	if err != nil {
		return nil, err
	}
	token, section, err := extractToken(sections)
	if err != nil {
		return nil, err
	}
	return verifyActorToken(token, section, moduleHash(module, sections), now)
}

func verifyActorToken(token, section, hash string, now time.Time) (*ActorClaims, error) {
	var c ActorClaims
	if err := ParseJWT(token, &c, now); err != nil {
		return nil, fmt.Errorf("actor claims (%s section): %w", section, err)
	}
	if err := CheckPublicKey(PrefixModule, c.Subject); err != nil {
		return nil, fmt.Errorf("actor claims subject: %w", err)
	}
	if err := CheckPublicKey(PrefixAccount, c.Issuer); err != nil {
		return nil, fmt.Errorf("actor claims issuer: %w", err)
	}
	if !strings.EqualFold(c.Actor.Hash, hash) {
		claimed := c.Actor.Hash
		if claimed == "" {
			claimed = "(none)"
		}
		return nil, fmt.Errorf("%w: claims say %s, module hashes to %s", ErrHashMismatch, short(claimed), hash)
	}
	return &c, nil
}

// SignActor embeds signed claims in a module: existing jwt sections are removed, meta.Hash is set
// to the module hash, and the token is appended as a wasmcloud_jwt custom section. The issuer
// must be an account key with its seed, the subject a module key.
func SignActor(module []byte, issuer *KeyPair, subject *KeyPair, meta ActorMetadata, opts SignOptions) ([]byte, *ActorClaims, error) {
	if issuer == nil || subject == nil {
		return nil, nil, errors.New("sign actor: issuer and subject keys are required")
	}
	if issuer.Prefix() != PrefixAccount {
		return nil, nil, fmt.Errorf("sign actor: issuer: %w: %s is a %s key, want an account key (A…)",
			ErrWrongKeyKind, short(issuer.PublicKey()), issuer.Prefix())
	}
	if subject.Prefix() != PrefixModule {
		return nil, nil, fmt.Errorf("sign actor: subject: %w: %s is a %s key, want a module key (M…)",
			ErrWrongKeyKind, short(subject.PublicKey()), subject.Prefix())
	}
	sections, err := parseSections(module)
	if err != nil {
		return nil, nil, fmt.Errorf("sign actor: %w", err)
	}
	stripped := stripJWT(module, sections)
	meta.Hash = moduleHash(module, sections)
	meta.Caps = nonEmpty(meta.Caps)
	meta.Tags = nonEmpty(meta.Tags)
	meta.CallAlias = normalizeCallAlias(meta.CallAlias)
	claims := &ActorClaims{
		Claims: Claims{Subject: subject.PublicKey(), Expires: unixOrZero(opts.Expires), NotBefore: unixOrZero(opts.NotBefore)},
		Actor:  meta,
	}
	token, err := SignJWT(claims, issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("sign actor: %w", err)
	}
	return appendCustomSection(stripped, jwtSection, []byte(token)), claims, nil
}

func appendCustomSection(module []byte, name string, data []byte) []byte {
	var body []byte
	body = appendU32(body, uint32(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	module = append(module, 0)
	module = appendU32(module, uint32(len(body)))
	return append(module, body...)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// normalizeCallAlias lowercases and trims an alias, drops non-ASCII characters and turns
// spaces, dashes and dots into underscores, as wascap does when signing.
func normalizeCallAlias(alias string) string {
	alias = strings.TrimSpace(strings.ToLower(alias))
	var b strings.Builder
	for _, r := range alias {
		switch {
		case r > 127:
		case r == ' ' || r == '-' || r == '.':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ActorInspection describes a module's claims for `trellis claims inspect`, whether or not they
// are valid.
type ActorInspection struct {
	Claims  *ActorClaims // decoded without verification; nil when there are none or they don't decode
	Token   string       // the embedded JWT
	Section string       // wasmcloud_jwt, jwt or ""
	Hash    string       // the module hash computed here
	Valid   bool
	Problem string // why the module would be refused; empty when Valid
}

// InspectActor reports what a module carries and whether a host would accept it at now. It never
// fails: problems are described in Problem.
func InspectActor(module []byte, now time.Time) ActorInspection {
	var in ActorInspection
	sections, err := parseSections(module)
	if err != nil {
		in.Problem = err.Error()
		return in
	}
	in.Hash = moduleHash(module, sections)
	in.Token, in.Section, err = extractToken(sections)
	if err != nil {
		in.Problem = err.Error()
		return in
	}
	if raw, err := decodeJWT(in.Token); err == nil {
		var c ActorClaims
		if raw.decodeInto(&c) == nil {
			in.Claims = &c
		}
	}
	if _, err := verifyActorToken(in.Token, in.Section, in.Hash, now); err != nil {
		in.Problem = err.Error()
		return in
	}
	in.Valid = true
	return in
}
