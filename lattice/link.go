package lattice

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// LinkDefinition wires an actor to a provider for one contract. Its identity is
// (ActorID, ContractID, LinkName). JSON is the KV and control form; msgpack is the form pushed to
// providers (without id and the Trellis extensions).
type LinkDefinition struct {
	ID         string            `json:"id" msgpack:"-"`
	ActorID    string            `json:"actor_id" msgpack:"actor_id"`
	ProviderID string            `json:"provider_id" msgpack:"provider_id"`
	LinkName   string            `json:"link_name" msgpack:"link_name"`
	ContractID string            `json:"contract_id" msgpack:"contract_id"`
	Values     map[string]string `json:"values" msgpack:"values"`

	// JWT is the Trellis signed-link token (PROTOCOL.md §10), empty when unsigned.
	JWT string `json:"jwt,omitempty" msgpack:"-"`
	// Status is set by hosts in get.links replies (Trellis extension): "signed", "unsigned" or
	// "rejected: reason". It is never stored.
	Status string `json:"status,omitempty" msgpack:"-"`
}

// LinkID is the identity hash of a link: uppercase hex SHA-256 of actor ‖ contract ‖ link name.
func LinkID(actorID, contractID, linkName string) string {
	h := sha256.Sum256([]byte(actorID + contractID + orDefault(linkName, DefaultLinkName)))
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// Normalize fills the defaults (link name, id, non-nil values).
func (l *LinkDefinition) Normalize() {
	if l.LinkName == "" {
		l.LinkName = DefaultLinkName
	}
	if l.Values == nil {
		l.Values = map[string]string{}
	}
	l.ID = LinkID(l.ActorID, l.ContractID, l.LinkName)
}

// Validate reports what is wrong with a link, naming the field.
func (l *LinkDefinition) Validate() error {
	if err := CheckPublicKey(PrefixModule, l.ActorID); err != nil {
		return fmt.Errorf("link actor_id: %w", err)
	}
	if err := CheckPublicKey(PrefixService, l.ProviderID); err != nil {
		return fmt.Errorf("link provider_id: %w", err)
	}
	if strings.TrimSpace(l.ContractID) == "" {
		return fmt.Errorf("link contract_id: empty")
	}
	return nil
}

// Key is the KV key of the link: LINKDEF_{id}.
func (l *LinkDefinition) Key() string {
	return LinkKeyPrefix + LinkID(l.ActorID, l.ContractID, l.LinkName)
}

// Value looks up a link value, keys compared case-insensitively.
func (l *LinkDefinition) Value(key string) (string, bool) {
	if v, ok := l.Values[key]; ok {
		return v, true
	}
	for k, v := range l.Values {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// ValuesHash is the uppercase hex SHA-256 of the values sorted by key as "key=value\n".
func ValuesHash(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, values[k])
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// KV key prefixes of the LATTICEDATA bucket.
const (
	LinkKeyPrefix   = "LINKDEF_"
	ClaimsKeyPrefix = "CLAIMS_"
	refMapKeyPrefix = "REFMAP_"
)

// RefMap maps an OCI reference to the key of what it holds.
type RefMap struct {
	OCIURL    string `json:"oci_url"`
	PublicKey string `json:"public_key"`
}

// LinkWarnings names what the lattice's claims say will keep a link from working: a provider that
// implements another contract, an actor without the link's contract among its capabilities. The
// link is published all the same, as wash does: claims can change, and links may come first.
// claims are get.claims entries; those of other keys are passed over.
func LinkWarnings(claims []map[string]string, l LinkDefinition) []string {
	var out []string
	for _, c := range claims {
		switch c["sub"] {
		case l.ProviderID:
			if got := c["contract_id"]; got != "" && got != l.ContractID {
				out = append(out, fmt.Sprintf("provider %s (%s) implements %s, not %s: no provider will serve this link",
					l.ProviderID, c["name"], got, l.ContractID))
			}
		case l.ActorID:
			if !slices.Contains(strings.Split(c["caps"], ","), l.ContractID) {
				out = append(out, fmt.Sprintf("actor %s (%s) is not signed with the %s capability: hosts refuse calls over this link, either way",
					l.ActorID, c["name"], l.ContractID))
			}
		}
	}
	return out
}
