package lattice

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testLink(t *testing.T) *LinkDefinition {
	t.Helper()
	return &LinkDefinition{
		ActorID:    claimsTestKey(t, PrefixModule).PublicKey(),
		ProviderID: claimsTestKey(t, PrefixService).PublicKey(),
		LinkName:   "default",
		ContractID: "wasmcloud:httpserver",
		Values:     map[string]string{"ADDRESS": "0.0.0.0:8080", "timeout_ms": "500"},
	}
}

func TestSignAndVerifyLink(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	l := testLink(t)
	require.NoError(t, SignLink(l, acct))
	require.NotEmpty(t, l.JWT)
	require.NoError(t, VerifyLink(l, []string{"AOTHER", acct.PublicKey()}, time.Now()))

	var c linkClaims
	require.NoError(t, ParseJWT(l.JWT, &c, time.Now()))
	require.Equal(t, LinkID(l.ActorID, l.ContractID, l.LinkName), c.Subject)
	require.Equal(t, acct.PublicKey(), c.Issuer)
	require.Equal(t, linkMetadata{ActorID: l.ActorID, ProviderID: l.ProviderID, LinkName: "default",
		ContractID: l.ContractID, ValuesHash: ValuesHash(l.Values)}, c.Link)

	// An empty link name means the default one, before and after signing.
	l.LinkName = ""
	require.NoError(t, VerifyLink(l, []string{acct.PublicKey()}, time.Now()))
	l2 := testLink(t)
	l2.LinkName = ""
	require.NoError(t, SignLink(l2, acct))
	l2.LinkName = "default"
	require.NoError(t, VerifyLink(l2, []string{acct.PublicKey()}, time.Now()))
}

func TestVerifyLinkRejects(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	trusted := []string{acct.PublicKey()}
	signed := testLink(t)
	require.NoError(t, SignLink(signed, acct))
	clone := func() *LinkDefinition {
		c := *signed
		c.Values = maps.Clone(signed.Values)
		return &c
	}
	other := claimsTestKey(t, PrefixAccount)
	byOther := clone()
	require.NoError(t, SignLink(byOther, other))
	bySvc := clone()
	svc := claimsTestKey(t, PrefixService)
	tok, err := SignJWT(&linkClaims{Claims: Claims{Subject: LinkID(signed.ActorID, signed.ContractID, signed.LinkName)}}, svc)
	require.NoError(t, err)
	bySvc.JWT = tok

	for _, tc := range []struct {
		name    string
		mutate  func(l *LinkDefinition)
		issuers []string
		want    error
		msg     string
	}{
		{"unsigned", func(l *LinkDefinition) { l.JWT = "" }, trusted, ErrLinkUnsigned, "link is unsigned"},
		{"untrusted issuer", func(l *LinkDefinition) { l.JWT = byOther.JWT }, trusted, ErrLinkUntrusted,
			"link signed by " + other.PublicKey() + " which is not a trusted link issuer"},
		{"no trusted issuers", func(*LinkDefinition) {}, nil, ErrLinkUntrusted, "not a trusted link issuer"},
		{"trusted issuer that is not an account", func(l *LinkDefinition) { l.JWT = bySvc.JWT }, []string{svc.PublicKey()}, ErrWrongKeyKind, "issuer"},
		{"actor changed", func(l *LinkDefinition) { l.ActorID = claimsTestKey(t, PrefixModule).PublicKey() }, trusted, ErrLinkTampered, "actor_id changed after signing"},
		{"provider changed", func(l *LinkDefinition) { l.ProviderID = claimsTestKey(t, PrefixService).PublicKey() }, trusted, ErrLinkTampered, "provider_id changed"},
		{"link name changed", func(l *LinkDefinition) { l.LinkName = "backup" }, trusted, ErrLinkTampered, "link_name changed"},
		{"contract changed", func(l *LinkDefinition) { l.ContractID = "wasmcloud:keyvalue" }, trusted, ErrLinkTampered, "contract_id changed"},
		{"value changed", func(l *LinkDefinition) { l.Values["ADDRESS"] = "0.0.0.0:9090" }, trusted, ErrLinkTampered, "link values changed after signing"},
		{"value added", func(l *LinkDefinition) { l.Values["extra"] = "" }, trusted, ErrLinkTampered, "link values changed"},
		{"value removed", func(l *LinkDefinition) { delete(l.Values, "timeout_ms") }, trusted, ErrLinkTampered, "link values changed"},
		{"bad signature", func(l *LinkDefinition) { l.JWT = l.JWT[:len(l.JWT)-4] + "AAAA" }, trusted, ErrBadSignature, "link jwt"},
		{"garbage jwt", func(l *LinkDefinition) { l.JWT = "not-a-jwt" }, trusted, ErrMalformedToken, "link jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := clone()
			tc.mutate(l)
			err := VerifyLink(l, tc.issuers, time.Now())
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestVerifyLinkSubjectMismatch(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	l := testLink(t)
	c := &linkClaims{Claims: Claims{Subject: strings.Repeat("0", 64)}, Link: linkMetadata{
		ActorID: l.ActorID, ProviderID: l.ProviderID, LinkName: l.LinkName, ContractID: l.ContractID, ValuesHash: ValuesHash(l.Values)}}
	tok, err := SignJWT(c, acct)
	require.NoError(t, err)
	l.JWT = tok
	err = VerifyLink(l, []string{acct.PublicKey()}, time.Now())
	require.ErrorIs(t, err, ErrLinkTampered)
	require.ErrorContains(t, err, "link jwt is for link")
}

func TestSignLinkRejects(t *testing.T) {
	acct := claimsTestKey(t, PrefixAccount)
	require.ErrorIs(t, SignLink(testLink(t), claimsTestKey(t, PrefixCluster)), ErrWrongKeyKind)
	pubOnly, err := keyPairFromPublicKey(acct.PublicKey())
	require.NoError(t, err)
	require.ErrorIs(t, SignLink(testLink(t), pubOnly), ErrNoPrivateKey)
	bad := testLink(t)
	bad.ActorID = "nope"
	require.ErrorContains(t, SignLink(bad, acct), "link actor_id")
	require.Empty(t, bad.JWT)
}
