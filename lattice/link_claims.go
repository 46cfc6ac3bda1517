package lattice

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Signed-link errors (PROTOCOL.md §10), for branching with errors.Is.
var (
	ErrLinkUnsigned  = errors.New("link is unsigned")
	ErrLinkUntrusted = errors.New("link is not signed by a trusted link issuer")
	ErrLinkTampered  = errors.New("link changed after signing")
)

// SignLink signs the link with an account key and stores the token in l.JWT. The claims bind the
// link id, every link field and the hash of the values.
func SignLink(l *LinkDefinition, account *KeyPair) error {
	if l == nil {
		return errors.New("sign link: no link")
	}
	if account == nil {
		return errors.New("sign link: no account key")
	}
	if account.Prefix() != PrefixAccount {
		return fmt.Errorf("sign link: %w: %s is a %s key, want an account key (A…)",
			ErrWrongKeyKind, short(account.PublicKey()), account.Prefix())
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("sign link: %w", err)
	}
	linkName := orDefault(l.LinkName, DefaultLinkName)
	claims := &linkClaims{
		Claims: Claims{Subject: LinkID(l.ActorID, l.ContractID, linkName)},
		Link: linkMetadata{
			ActorID:    l.ActorID,
			ProviderID: l.ProviderID,
			LinkName:   linkName,
			ContractID: l.ContractID,
			ValuesHash: ValuesHash(l.Values),
		},
	}
	tok, err := SignJWT(claims, account)
	if err != nil {
		return fmt.Errorf("sign link: %w", err)
	}
	l.JWT = tok
	return nil
}

// VerifyLink checks a signed link: a token is present, its signature and times hold, its issuer
// is one of issuers (an empty list trusts nobody), and the link's id, fields and values are the
// ones signed. Errors wrap ErrLinkUnsigned, ErrLinkUntrusted or ErrLinkTampered, or the JWT
// errors (ErrBadSignature, ErrExpired, …).
func VerifyLink(l *LinkDefinition, issuers []string, now time.Time) error {
	if l == nil {
		return errors.New("verify link: no link")
	}
	if strings.TrimSpace(l.JWT) == "" {
		return ErrLinkUnsigned
	}
	var c linkClaims
	if err := ParseJWT(l.JWT, &c, now); err != nil {
		return fmt.Errorf("link jwt: %w", err)
	}
	if !slices.Contains(issuers, c.Issuer) {
		return fmt.Errorf("%w: link signed by %s which is not a trusted link issuer", ErrLinkUntrusted, c.Issuer)
	}
	if err := CheckPublicKey(PrefixAccount, c.Issuer); err != nil {
		return fmt.Errorf("%w: link issuer: %w", ErrLinkUntrusted, err)
	}
	linkName := orDefault(l.LinkName, DefaultLinkName)
	fields := []struct{ name, signed, now string }{
		{"actor_id", c.Link.ActorID, l.ActorID},
		{"provider_id", c.Link.ProviderID, l.ProviderID},
		{"link_name", orDefault(c.Link.LinkName, DefaultLinkName), linkName},
		{"contract_id", c.Link.ContractID, l.ContractID},
	}
	for _, f := range fields {
		if f.signed != f.now {
			return fmt.Errorf("%w: link %s changed after signing (signed %q, now %q)", ErrLinkTampered, f.name, f.signed, f.now)
		}
	}
	if id := LinkID(l.ActorID, l.ContractID, linkName); c.Subject != id {
		return fmt.Errorf("%w: link jwt is for link %s, not %s", ErrLinkTampered, short(c.Subject), id)
	}
	if h := ValuesHash(l.Values); !strings.EqualFold(c.Link.ValuesHash, h) {
		return fmt.Errorf("%w: link values changed after signing", ErrLinkTampered)
	}
	return nil
}
