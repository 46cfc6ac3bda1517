package host

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
)

type linkKey struct{ actor, contract, name string }

// linkCache is the host's view of the links in the lattice data bucket, applied and rejected.
// watchStore alone writes it; every change moves its revision on, so that a reader can tell
// which changes a snapshot of it includes (syncLinks). Only its methods take its lock.
type linkCache struct {
	mu       sync.RWMutex
	rev      uint64 // changes applied so far
	byKey    map[linkKey]lattice.LinkDefinition
	byID     map[string]lattice.LinkDefinition // every link seen, applied or not, by id
	rejected map[string]string                 // id → reason
}

func newLinkCache() *linkCache {
	return &linkCache{
		byKey:    map[linkKey]lattice.LinkDefinition{},
		byID:     map[string]lattice.LinkDefinition{},
		rejected: map[string]string{},
	}
}

func (c *linkCache) get(actor, contract, name string) (lattice.LinkDefinition, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.byKey[linkKey{actor, contract, name}]
	return l, ok
}

// forProvider returns the applied links of a provider and link name, sorted by id, and the
// revision they are as of.
func (c *linkCache) forProvider(id providerID) ([]lattice.LinkDefinition, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []lattice.LinkDefinition
	for _, l := range c.byKey {
		if l.ProviderID == id.key && l.LinkName == id.linkName {
			out = append(out, l)
		}
	}
	sortLinks(out)
	return out, c.rev
}

// apply records a link put; reason is empty when the link is applied. It returns the link that
// was applied for the same actor, contract and link name before, if any, which an applied put
// replaces, and the revision of this change. A rejected put replaces nothing: when a link is
// applied for its triple or under its key (it was verified then), that link stays applied and
// kept is true, and the rejected put is only reported; otherwise it is recorded as rejected.
func (c *linkCache) apply(l lattice.LinkDefinition, reason string) (prev lattice.LinkDefinition, replaced, kept bool, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rev++
	rev = c.rev
	k := linkKey{l.ActorID, l.ContractID, l.LinkName}
	prev, replaced = c.byKey[k]
	if reason != "" {
		if replaced {
			return prev, false, true, rev
		}
		if old, ok := c.byID[l.ID]; ok && c.rejected[l.ID] == "" {
			return old, false, true, rev
		}
		c.byID[l.ID] = l
		c.rejected[l.ID] = reason
		return prev, false, false, rev
	}
	if replaced && prev.ID != l.ID {
		// The same link stored under another key (written by an older client): the newer wins.
		delete(c.byID, prev.ID)
		delete(c.rejected, prev.ID)
	}
	c.byID[l.ID] = l
	delete(c.rejected, l.ID)
	c.byKey[k] = l
	return prev, replaced, false, rev
}

// remove forgets a link by id and returns it, with whether it had been applied and the revision
// of this change; ok is false when no link had that id.
func (c *linkCache) remove(id string) (l lattice.LinkDefinition, applied bool, rev uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok = c.byID[id]
	if !ok {
		return l, false, 0, false
	}
	c.rev++
	_, wasRejected := c.rejected[id]
	delete(c.byID, id)
	delete(c.rejected, id)
	delete(c.byKey, linkKey{l.ActorID, l.ContractID, l.LinkName})
	return l, !wasRejected, c.rev, true
}

// links returns every link seen with its status, sorted by id.
func (c *linkCache) links() []lattice.LinkDefinition {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]lattice.LinkDefinition, 0, len(c.byID))
	for id, l := range c.byID {
		switch {
		case c.rejected[id] != "":
			l.Status = "rejected: " + c.rejected[id]
		case l.JWT != "":
			l.Status = "signed"
		default:
			l.Status = "unsigned"
		}
		out = append(out, l)
	}
	sortLinks(out)
	return out
}

// aliasTable resolves call aliases to public keys, from the claims in the lattice data bucket
// (fed by watchStore) and those of the actors this host starts. Only its methods take its lock.
type aliasTable struct {
	mu      sync.RWMutex
	claims  map[string]map[string]string // public key → claims strings
	aliases map[string]string            // call alias → public key
}

func newAliasTable() *aliasTable {
	return &aliasTable{claims: map[string]map[string]string{}, aliases: map[string]string{}}
}

// get returns the public key whose claims have call alias a.
func (t *aliasTable) get(a string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	pk, ok := t.aliases[a]
	return pk, ok
}

// put records the claims of pk: its call alias, if any, replaces the one it had.
func (t *aliasTable) put(pk string, m map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.claims[pk]; ok && old["call_alias"] != "" && t.aliases[old["call_alias"]] == pk {
		delete(t.aliases, old["call_alias"])
	}
	t.claims[pk] = m
	if a := m["call_alias"]; a != "" {
		t.aliases[a] = pk
	}
}

func sortLinks(ls []lattice.LinkDefinition) {
	slices.SortFunc(ls, func(a, b lattice.LinkDefinition) int { return strings.Compare(a.ID, b.ID) })
}

// linkVerdict says why a link must not be applied on this host, or "" when it may.
func (h *Host) linkVerdict(l *lattice.LinkDefinition) string {
	if len(h.cfg.LinkIssuers) == 0 {
		return ""
	}
	if err := lattice.VerifyLink(l, h.cfg.LinkIssuers, time.Now()); err != nil {
		return err.Error()
	}
	return ""
}

// watchStore follows the lattice data bucket until ctx ends; synced is closed once the existing
// entries have been read. Events are published for live changes only, not for the replay.
func (h *Host) watchStore(ctx context.Context, synced chan<- struct{}) error {
	live := false
	return h.store.Watch(ctx, func(ch lattice.StoreChange) {
		switch {
		case ch.Op == lattice.OpSynced:
			if !live {
				live = true
				close(synced)
			}
		case ch.DecodeErr != nil && ch.Kind == lattice.KindClaims:
			h.rejectClaims(ch, live)
		case ch.DecodeErr != nil && ch.Kind == lattice.KindLink && len(h.cfg.LinkIssuers) > 0:
			// Garbage is unsigned too: it cannot undo a verified link.
			reason := "malformed, so unsigned: " + ch.DecodeErr.Error()
			h.log.Warn().Str("key", ch.Key).Str("reason", reason).Msg("link rejected")
			if live {
				h.publish(lattice.EventLinkdefRejected, lattice.LinkdefData{ID: ch.ID, Values: map[string]string{}, Reason: reason})
			}
		case ch.DecodeErr != nil:
			h.log.Warn().Err(ch.DecodeErr).Str("key", ch.Key).Msg("malformed lattice data entry ignored")
			if ch.Kind == lattice.KindLink {
				// A link overwritten with garbage is no longer a link.
				h.forgetLink(strings.TrimPrefix(ch.Key, lattice.LinkKeyPrefix), live)
			}
		case ch.Kind == lattice.KindLink && ch.Op == lattice.OpPut && ch.Link != nil:
			// The id stays the key's: links written by older clients live under other keys.
			l := *ch.Link
			if l.LinkName == "" {
				l.LinkName = lattice.DefaultLinkName
			}
			if l.Values == nil {
				l.Values = map[string]string{}
			}
			reason := h.linkVerdict(&l)
			prev, replaced, kept, rev := h.links.apply(l, reason)
			if reason != "" {
				if kept {
					reason += "; the signed link applied before stays in effect"
				}
				h.log.Warn().Str("key", ch.Key).Str("actor", l.ActorID).Str("contract", l.ContractID).
					Str("link_name", l.LinkName).Str("reason", reason).Msg("link rejected")
				if live {
					h.publish(lattice.EventLinkdefRejected, linkdefData(l, reason))
				}
				return
			}
			if live {
				h.publish(lattice.EventLinkdefSet, linkdefData(l, ""))
			}
			if replaced && prev.ProviderID != l.ProviderID {
				// The link moved to another provider: the provider that had it lets go of it.
				h.linkChanged(prev, true, rev)
			}
			h.linkChanged(l, false, rev)
		case ch.Kind == lattice.KindLink && ch.Op == lattice.OpDelete:
			h.forgetLink(strings.TrimPrefix(ch.Key, lattice.LinkKeyPrefix), live)
		case ch.Kind == lattice.KindClaims && ch.Op == lattice.OpPut && ch.Claims != nil:
			// Verified by the store: the fields are those of the entry's token.
			h.aliases.put(strings.TrimPrefix(ch.Key, lattice.ClaimsKeyPrefix), ch.Claims)
		}
	})
}

// rejectClaims reports a CLAIMS_ entry that is malformed or does not verify: it is ignored, so
// the aliases and claims it states are not taken (docs/compat.md: claims entries carry their JWT).
func (h *Host) rejectClaims(ch lattice.StoreChange, live bool) {
	pk := strings.TrimPrefix(ch.Key, lattice.ClaimsKeyPrefix)
	h.log.Warn().Err(ch.DecodeErr).Str("key", ch.Key).Msg("claims entry ignored")
	if live {
		h.publish(lattice.EventClaimsRejected, lattice.ClaimsRejectedData{PublicKey: pk, Key: ch.Key, Reason: ch.DecodeErr.Error()})
	}
}

// forgetLink drops a link by id, publishing linkdef_deleted (when live) and withdrawing it from a
// local provider that had it.
func (h *Host) forgetLink(id string, live bool) {
	l, applied, rev, ok := h.links.remove(id)
	if ok && live {
		h.publish(lattice.EventLinkdefDeleted, linkdefData(l, ""))
	}
	if ok && applied {
		h.linkChanged(l, true, rev)
	}
}

func linkdefData(l lattice.LinkDefinition, reason string) lattice.LinkdefData {
	return lattice.LinkdefData{ID: l.ID, ActorID: l.ActorID, ProviderID: l.ProviderID, LinkName: l.LinkName,
		ContractID: l.ContractID, Values: l.Values, Reason: reason}
}
