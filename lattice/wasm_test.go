package lattice

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tinyModule is a hand-assembled core module exporting `run` (returns 42), with a memory, one
// data segment and a custom section whose size is a padded LEB128 (valid, but not what an
// encoder would write), to show that hashing leaves every other byte alone.
var tinyModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: (func (result i32))
	0x03, 0x02, 0x01, 0x00, // function: func 0 has type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
	0x07, 0x07, 0x01, 0x03, 'r', 'u', 'n', 0x00, 0x00, // export "run" = func 0
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // code: i32.const 42; end
	0x0b, 0x08, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x02, 'h', 'i', // data: "hi" at 0
	0x00, 0x87, 0x80, 0x80, 0x80, 0x00, 0x04, 'n', 'o', 't', 'e', 0x01, 0x02, // custom "note", padded size
}

const (
	tinyCodeConst = 39 // offset of the 42 in i32.const 42
	tinyDataByte  = 49 // offset of 'h' in the data segment
)

func sha256Upper(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

type actorKeys struct{ acct, mod *KeyPair }

func newActorKeys(t testing.TB) actorKeys {
	return actorKeys{claimsTestKey(t, PrefixAccount), claimsTestKey(t, PrefixModule)}
}

func (k actorKeys) sign(t testing.TB, module []byte, meta ActorMetadata, opts SignOptions) []byte {
	t.Helper()
	out, _, err := SignActor(module, k.acct, k.mod, meta, opts)
	require.NoError(t, err)
	return out
}

func TestTinyModuleLayout(t *testing.T) {
	require.Equal(t, byte(0x2a), tinyModule[tinyCodeConst])
	require.Equal(t, byte('h'), tinyModule[tinyDataByte])
	sections, err := parseSections(tinyModule)
	require.NoError(t, err)
	var ids []byte
	for _, s := range sections {
		ids = append(ids, s.id)
	}
	require.Equal(t, []byte{1, 3, 5, 7, 10, 11, 0}, ids)
	require.Equal(t, "note", sections[6].name)
	require.Equal(t, []byte{1, 2}, sections[6].data)
}

func TestModuleHashOfUnsignedModule(t *testing.T) {
	h, err := ModuleHash(tinyModule)
	require.NoError(t, err)
	require.Equal(t, sha256Upper(tinyModule), h)
}

func TestSignAndVerifyActor(t *testing.T) {
	keys := newActorKeys(t)
	meta := ActorMetadata{Name: "tiny", Caps: []string{"wasmcloud:httpserver", ""}, Tags: []string{"test"},
		Rev: 2, Ver: "0.1.0", CallAlias: "Tiny Echo-v1.0"}
	signed, claims, err := SignActor(tinyModule, keys.acct, keys.mod, meta, SignOptions{})
	require.NoError(t, err)

	// The original bytes are untouched and the claims come last, in a wasmcloud_jwt section.
	require.True(t, bytes.HasPrefix(signed, tinyModule))
	require.Equal(t, sha256Upper(tinyModule), claims.Actor.Hash)
	require.Equal(t, []string{"wasmcloud:httpserver"}, claims.Actor.Caps)
	require.Equal(t, "tiny_echo_v1_0", claims.Actor.CallAlias)
	require.Equal(t, keys.acct.PublicKey(), claims.Issuer)
	require.Equal(t, keys.mod.PublicKey(), claims.Subject)

	hash, err := ModuleHash(signed)
	require.NoError(t, err)
	require.Equal(t, claims.Actor.Hash, hash)

	got, err := VerifyActor(signed, time.Now())
	require.NoError(t, err)
	require.Equal(t, claims, got)
	require.True(t, got.HasCap("wasmcloud:httpserver"))

	token, section, err := extractActorClaims(signed)
	require.NoError(t, err)
	require.Equal(t, jwtSection, section)
	require.Equal(t, 3, len(strings.Split(token, ".")))

	// Signing again replaces the section instead of adding one.
	again := keys.sign(t, signed, ActorMetadata{Name: "tiny", Rev: 3}, SignOptions{})
	sections, err := parseSections(again)
	require.NoError(t, err)
	jwtSections := 0
	for _, s := range sections {
		if s.isJWT() {
			jwtSections++
		}
	}
	require.Equal(t, 1, jwtSections)
	c2, err := VerifyActor(again, time.Now())
	require.NoError(t, err)
	require.Equal(t, 3, c2.Actor.Rev)
	require.Equal(t, hash, c2.Actor.Hash)
}

func TestVerifyActorTampered(t *testing.T) {
	keys := newActorKeys(t)
	signed := keys.sign(t, tinyModule, ActorMetadata{Name: "tiny"}, SignOptions{})
	for _, tc := range []struct {
		name string
		at   int
	}{
		{"code", tinyCodeConst},
		{"data", tinyDataByte},
		{"other custom section", len(tinyModule) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(signed)
			bad[tc.at]++
			_, err := VerifyActor(bad, time.Now())
			require.ErrorIs(t, err, ErrHashMismatch)
			badHash, herr := ModuleHash(bad)
			require.NoError(t, herr)
			require.ErrorContains(t, err, sha256Upper(tinyModule)) // what the claims say
			require.ErrorContains(t, err, badHash)                 // what the module is

			in := InspectActor(bad, time.Now())
			require.False(t, in.Valid)
			require.NotNil(t, in.Claims)
			require.Equal(t, badHash, in.Hash)
			require.Contains(t, in.Problem, "hash")
		})
	}
}

func TestActorJWTSections(t *testing.T) {
	keys := newActorKeys(t)
	signed := keys.sign(t, tinyModule, ActorMetadata{Name: "tiny"}, SignOptions{})
	token, _, err := extractActorClaims(signed)
	require.NoError(t, err)
	other := keys.sign(t, tinyModule, ActorMetadata{Name: "other"}, SignOptions{})
	otherToken, _, err := extractActorClaims(other)
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		module   []byte
		section  string
		wantName string
	}{
		{"legacy jwt section", appendCustomSection(bytes.Clone(tinyModule), "jwt", []byte(token)), "jwt", "tiny"},
		{"wasmcloud_jwt section", appendCustomSection(bytes.Clone(tinyModule), "wasmcloud_jwt", []byte(token)), "wasmcloud_jwt", "tiny"},
		{"both, jwt first: wasmcloud_jwt wins",
			appendCustomSection(appendCustomSection(bytes.Clone(tinyModule), "jwt", []byte(otherToken)), "wasmcloud_jwt", []byte(token)),
			"wasmcloud_jwt", "tiny"},
		{"both, wasmcloud_jwt first",
			appendCustomSection(appendCustomSection(bytes.Clone(tinyModule), "wasmcloud_jwt", []byte(otherToken)), "jwt", []byte("garbage")),
			"wasmcloud_jwt", "other"},
		{"section in the middle", append(appendCustomSection(bytes.Clone(tinyModule[:8]), "jwt", []byte(token)), tinyModule[8:]...), "jwt", "tiny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, section, err := extractActorClaims(tc.module)
			require.NoError(t, err)
			require.Equal(t, tc.section, section)
			c, err := VerifyActor(tc.module, time.Now())
			require.NoError(t, err)
			require.Equal(t, tc.wantName, c.Actor.Name)
			h, err := ModuleHash(tc.module)
			require.NoError(t, err)
			require.Equal(t, sha256Upper(tinyModule), h)
		})
	}
}

func TestVerifyActorRejects(t *testing.T) {
	keys := newActorKeys(t)
	now := time.Now()
	hash := sha256Upper(tinyModule)
	embed := func(c any, key *KeyPair) []byte {
		tok, err := SignJWT(c, key)
		require.NoError(t, err)
		return appendCustomSection(bytes.Clone(tinyModule), jwtSection, []byte(tok))
	}
	svc := claimsTestKey(t, PrefixService)
	for _, tc := range []struct {
		name   string
		module []byte
		want   error
		msg    string
	}{
		{"unsigned", tinyModule, ErrUnsigned, "not signed"},
		{"expired", keys.sign(t, tinyModule, ActorMetadata{}, SignOptions{Expires: now.Add(-time.Hour)}), ErrExpired, "wasmcloud_jwt section"},
		{"not yet valid", keys.sign(t, tinyModule, ActorMetadata{}, SignOptions{NotBefore: now.Add(time.Hour)}), ErrNotYetValid, ""},
		{"subject is not a module key", embed(&ActorClaims{Claims: Claims{Subject: svc.PublicKey()}, Actor: ActorMetadata{Hash: hash}}, keys.acct), ErrWrongKeyKind, "subject"},
		{"issuer is not an account key", embed(&ActorClaims{Claims: Claims{Subject: keys.mod.PublicKey()}, Actor: ActorMetadata{Hash: hash}}, svc), ErrWrongKeyKind, "issuer"},
		{"no hash", embed(&ActorClaims{Claims: Claims{Subject: keys.mod.PublicKey()}}, keys.acct), ErrHashMismatch, "(none)"},
		{"garbage token", appendCustomSection(bytes.Clone(tinyModule), jwtSection, []byte("garbage")), ErrMalformedToken, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyActor(tc.module, now)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.msg)
			in := InspectActor(tc.module, now)
			require.False(t, in.Valid)
			require.Equal(t, err.Error(), in.Problem)
			require.Equal(t, hash, in.Hash)
		})
	}
}

func TestSignActorRejectsWrongKeys(t *testing.T) {
	keys := newActorKeys(t)
	_, _, err := SignActor(tinyModule, keys.mod, keys.mod, ActorMetadata{}, SignOptions{})
	require.ErrorIs(t, err, ErrWrongKeyKind)
	require.ErrorContains(t, err, "issuer")
	_, _, err = SignActor(tinyModule, keys.acct, keys.acct, ActorMetadata{}, SignOptions{})
	require.ErrorIs(t, err, ErrWrongKeyKind)
	require.ErrorContains(t, err, "subject")
	pubOnly, err := keyPairFromPublicKey(keys.acct.PublicKey())
	require.NoError(t, err)
	_, _, err = SignActor(tinyModule, pubOnly, keys.mod, ActorMetadata{}, SignOptions{})
	require.ErrorIs(t, err, ErrNoPrivateKey)
	_, _, err = SignActor([]byte("not wasm"), keys.acct, keys.mod, ActorMetadata{}, SignOptions{})
	require.ErrorIs(t, err, ErrMalformedWasm)
}

func TestMalformedWasm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module []byte
		msg    string
	}{
		{"empty", nil, "magic"},
		{"not wasm", []byte("hello world"), "magic"},
		{"header only magic", tinyModule[:4], "magic"},
		{"component", []byte{0, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}, "unsupported version"},
		{"truncated section size", append(bytes.Clone(tinyModule[:8]), 0x01, 0x85), "truncated LEB128"},
		{"LEB128 too long", append(bytes.Clone(tinyModule[:8]), 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "LEB128"},
		{"LEB128 overflow", append(bytes.Clone(tinyModule[:8]), 0x01, 0xff, 0xff, 0xff, 0xff, 0x7f), "overflows"},
		{"section past the end", append(bytes.Clone(tinyModule[:8]), 0x01, 0x10, 0x00), "runs past the end"},
		{"truncated module", tinyModule[:len(tinyModule)-1], "runs past the end"},
		{"custom name past the section", append(bytes.Clone(tinyModule[:8]), 0x00, 0x02, 0x05, 'j'), "name length 5"},
		{"custom section without a name", append(bytes.Clone(tinyModule[:8]), 0x00, 0x00), "name length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ModuleHash(tc.module)
			require.ErrorIs(t, err, ErrMalformedWasm)
			require.ErrorContains(t, err, tc.msg)
			_, _, err = extractActorClaims(tc.module)
			require.ErrorIs(t, err, ErrMalformedWasm)
			_, err = VerifyActor(tc.module, time.Now())
			require.ErrorIs(t, err, ErrMalformedWasm)
			in := InspectActor(tc.module, time.Now())
			require.False(t, in.Valid)
			require.Nil(t, in.Claims)
			require.Contains(t, in.Problem, tc.msg)
		})
	}
}

func TestInspectActor(t *testing.T) {
	keys := newActorKeys(t)
	signed := keys.sign(t, tinyModule, ActorMetadata{Name: "tiny", Caps: []string{"wasmcloud:keyvalue"}}, SignOptions{})
	in := InspectActor(signed, time.Now())
	require.True(t, in.Valid, in.Problem)
	require.Empty(t, in.Problem)
	require.Equal(t, jwtSection, in.Section)
	require.Equal(t, sha256Upper(tinyModule), in.Hash)
	require.Equal(t, "tiny", in.Claims.Actor.Name)
	require.NotEmpty(t, in.Token)

	// An expired module still shows its claims.
	expired := keys.sign(t, tinyModule, ActorMetadata{Name: "old"}, SignOptions{Expires: time.Now().Add(-time.Minute)})
	in = InspectActor(expired, time.Now())
	require.False(t, in.Valid)
	require.Equal(t, "old", in.Claims.Actor.Name)
	require.Contains(t, in.Problem, "expired")

	in = InspectActor(tinyModule, time.Now())
	require.False(t, in.Valid)
	require.Nil(t, in.Claims)
	require.Empty(t, in.Section)
	require.Equal(t, ErrUnsigned.Error(), in.Problem)
}

func FuzzVerifyActor(f *testing.F) {
	keys := newActorKeys(f)
	signed := keys.sign(f, tinyModule, ActorMetadata{Name: "tiny", Caps: []string{"wasmcloud:httpserver"}}, SignOptions{})
	f.Add(tinyModule)
	f.Add(signed)
	f.Add(signed[:len(signed)-10])
	f.Add(appendCustomSection(bytes.Clone(tinyModule), "jwt", []byte("a.b.c")))
	f.Add([]byte{0, 'a', 's', 'm', 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	now := time.Now()
	f.Fuzz(func(t *testing.T, module []byte) {
		c, verr := VerifyActor(module, now)
		in := InspectActor(module, now)
		require.Equal(t, verr == nil, in.Valid)
		if verr != nil {
			require.Equal(t, verr.Error(), in.Problem)
			return
		}
		h, err := ModuleHash(module)
		require.NoError(t, err)
		require.True(t, strings.EqualFold(h, c.Actor.Hash))
	})
}
