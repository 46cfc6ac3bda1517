package host

import (
	"github.com/trellis-lattice/trellis/lattice"
)

// How a provider process learns its links. The link cache is the one record of the links a
// provider should have; a process is told them in its HostData when it spawns, then, once it
// answers on the lattice, the changes since (syncLinks), then each change as the cache applies
// it (linkChanged). A restart starts over with the links of that moment in the new HostData.
// Pushes to one provider are made under its linkMu, so they reach it in the cache's order.

// linkChanged pushes an applied link put or delete, change rev of the link cache, to the local
// provider it names.
func (h *Host) linkChanged(l lattice.LinkDefinition, deleted bool, rev uint64) {
	p, ok := h.providers.get(providerID{key: l.ProviderID, linkName: l.LinkName})
	if !ok {
		return
	}
	if p.builtin != nil {
		h.kickBuiltin(p)
		return
	}
	p.linkMu.Lock()
	defer p.linkMu.Unlock()
	if !p.ready || rev <= p.synced {
		return // the sync sends it, or has sent it
	}
	h.pushLink(p, l, deleted)
}

// spawnLinks returns the links to put in the HostData of a new process of p, and forgets what
// the process before it had been told: until the new one is synced, changes are left to its sync.
func (h *Host) spawnLinks(p *provider) []lattice.LinkDefinition {
	links, _ := h.links.forProvider(p.id)
	p.linkMu.Lock()
	defer p.linkMu.Unlock()
	p.given, p.ready, p.synced = links, false, 0
	return links
}

// syncLinks pushes the links that changed since the process got its HostData, and marks it
// ready for the changes that follow.
func (h *Host) syncLinks(p *provider) {
	p.linkMu.Lock()
	defer p.linkMu.Unlock()
	current, rev := h.links.forProvider(p.id)
	given := map[string]lattice.LinkDefinition{}
	for _, l := range p.given {
		given[l.ActorID] = l
	}
	for _, l := range current {
		if old, ok := given[l.ActorID]; !ok || old.ID != l.ID || lattice.ValuesHash(old.Values) != lattice.ValuesHash(l.Values) {
			h.pushLink(p, l, false)
		}
		delete(given, l.ActorID)
	}
	for _, l := range p.given {
		if _, gone := given[l.ActorID]; gone {
			h.pushLink(p, l, true)
		}
	}
	p.given, p.ready, p.synced = nil, true, rev
}

// pushLink sends a link put or delete to a provider process (msgpack, PROTOCOL.md §8). Callers
// hold p.linkMu.
func (h *Host) pushLink(p *provider, l lattice.LinkDefinition, deleted bool) {
	data, err := lattice.Marshal(&l)
	if err != nil {
		h.log.Error().Err(err).Msg("encode link")
		return
	}
	subject := h.subj.ProviderLinkPut(p.id.key, p.id.linkName)
	if deleted {
		subject = h.subj.ProviderLinkDel(p.id.key, p.id.linkName)
	}
	if err := h.nc.Publish(subject, data); err != nil {
		h.log.Warn().Err(err).Str("subject", subject).Msg("push link")
	}
}
