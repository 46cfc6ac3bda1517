package dashboard

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
)

// state is the dashboard's model of the lattice, fed by refreshes (ctl queries) and events. Every
// change bumps the version and signals changed, which makes the page get a new view.
type state struct {
	lattice     string
	staleAfter  time.Duration
	removeAfter time.Duration
	now         func() time.Time

	ver     atomic.Uint64
	changed chan struct{} // one pending signal at most

	mu     sync.Mutex
	hosts  map[string]*hostEntry
	gone   map[string]time.Time // hosts that said host_stopped, and when
	links  []lattice.LinkDefinition
	claims map[string]map[string]string // by subject (public key)
	apps   appsModel

	didRefresh bool   // a refresh of the hosts went through once
	refreshOK  bool   // the latest refresh went through
	refreshErr string // the latest refresh's error
}

// hostEntry is what is known of one host.
type hostEntry struct {
	info     lattice.Host
	uptimeAt time.Time // when info.UptimeSeconds was true
	lastSeen time.Time
	stale    bool
	inv      *lattice.HostInventory // nil until asked
	// health holds health events per provider (key + link name), for hosts whose inventory does
	// not report health (the Trellis extension).
	health map[string]string
}

func newState(latticeName string, staleAfter, removeAfter time.Duration) *state {
	return &state{
		lattice:     latticeName,
		staleAfter:  staleAfter,
		removeAfter: removeAfter,
		now:         time.Now,
		changed:     make(chan struct{}, 1),
		hosts:       map[string]*hostEntry{},
		gone:        map[string]time.Time{},
		claims:      map[string]map[string]string{},
		apps:        newAppsModel(),
	}
}

// touch records a change.
func (s *state) touch() {
	s.ver.Add(1)
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *state) version() uint64 { return s.ver.Load() }

func (s *state) refreshed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.didRefresh
}

func (s *state) lastRefreshOK() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshOK
}

// entry returns the host's entry, making it when new. Callers hold mu.
func (s *state) entry(id string) *hostEntry {
	e, ok := s.hosts[id]
	if !ok {
		e = &hostEntry{info: lattice.Host{ID: id, Labels: map[string]string{}}, health: map[string]string{}}
		s.hosts[id] = e
	}
	return e
}

// isGone reports whether a host said it stopped lately. Callers hold mu.
func (s *state) isGone(id string, now time.Time) bool {
	at, ok := s.gone[id]
	if ok && now.Sub(at) > s.removeAfter {
		delete(s.gone, id)
		return false
	}
	return ok
}

// heard notes that the host is alive. Callers hold mu.
func (s *state) heard(e *hostEntry, now time.Time) {
	e.lastSeen = now
	e.stale = false
}

// refreshDone records how a refresh ended: hostsErr is the error of asking for the hosts (the
// refresh did not get through), err any other.
func (s *state) refreshDone(hostsErr, err error) {
	s.mu.Lock()
	s.refreshOK = hostsErr == nil
	if hostsErr == nil {
		s.didRefresh = true
	}
	s.refreshErr = ""
	if all := errors.Join(hostsErr, err); all != nil {
		s.refreshErr = all.Error()
	}
	s.mu.Unlock()
	s.touch()
}

// setHosts records ping.hosts replies: each answering host is alive. Hosts that did not answer are
// kept: a host that stops heartbeating goes stale and then away (sweep).
func (s *state) setHosts(hosts []lattice.Host) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hosts {
		if s.isGone(h.ID, now) {
			continue
		}
		e := s.entry(h.ID)
		if h.Labels == nil {
			h.Labels = map[string]string{}
		}
		e.info = h
		e.uptimeAt = now
		s.heard(e, now)
	}
	s.touch()
}

// setInventory records a host's inventory; a host that answers is alive.
func (s *state) setInventory(inv *lattice.HostInventory) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv == nil || inv.HostID == "" || s.isGone(inv.HostID, now) {
		return
	}
	e := s.entry(inv.HostID)
	if e.info.FriendlyName == "" {
		e.info.FriendlyName = inv.FriendlyName
	}
	if len(e.info.Labels) == 0 && inv.Labels != nil {
		e.info.Labels = inv.Labels
	}
	e.inv = inv
	s.heard(e, now)
	s.touch()
}

// setLinks replaces the links.
func (s *state) setLinks(links []lattice.LinkDefinition) {
	s.mu.Lock()
	s.links = slices.Clone(links)
	s.mu.Unlock()
	s.touch()
}

// setClaims replaces the claims.
func (s *state) setClaims(claims []map[string]string) {
	m := make(map[string]map[string]string, len(claims))
	for _, c := range claims {
		if sub := c["sub"]; sub != "" {
			m[sub] = c
		}
	}
	s.mu.Lock()
	s.claims = m
	s.mu.Unlock()
	s.touch()
}

// followUp is what an event says should be asked again.
type followUp struct {
	inventory string // a host whose inventory to ask for
	links     bool
	claims    bool
	hosts     bool // an unknown host spoke: ask every host
}

// apply updates the model from an event and says what to ask the lattice again.
func (s *state) apply(ev lattice.CloudEvent) followUp {
	now := s.now()
	var f followUp
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.touch()
	}()
	host := ev.Source
	name := ev.Name()
	if !lattice.IsValidPublicKey(lattice.PrefixServer, host) {
		host = "" // not from a host: nothing to learn about hosts
	}
	if host == "" && (name == lattice.EventHostStopped || name == lattice.EventHostStarted || name == lattice.EventHostHeartbeat) {
		return f
	}
	switch name {
	case lattice.EventHostStopped:
		delete(s.hosts, host)
		s.gone[host] = now
		return f
	case lattice.EventHostStarted:
		delete(s.gone, host)
		var d lattice.HostStartedData
		if ev.DecodeData(&d) == nil {
			e := s.entry(host)
			e.info.FriendlyName, e.info.Version, e.info.UptimeSeconds = d.FriendlyName, d.Version, d.UptimeSeconds
			e.info.Labels = orEmptyMap(d.Labels)
			e.uptimeAt = now
		}
		f.inventory = host
	case lattice.EventHostHeartbeat:
		delete(s.gone, host)
		var d lattice.HostHeartbeatData
		if ev.DecodeData(&d) == nil {
			e := s.entry(host)
			e.info.FriendlyName, e.info.Version, e.info.UptimeSeconds = d.FriendlyName, d.Version, d.UptimeSeconds
			e.info.UptimeHuman = d.UptimeHuman
			e.info.Labels = orEmptyMap(d.Labels)
			e.uptimeAt = now
			if !inventoryMatches(e.inv, d) {
				f.inventory = host
			}
		}
	case lattice.EventActorStarted, lattice.EventProviderStarted:
		f.inventory, f.claims = host, true
	case lattice.EventActorStopped, lattice.EventActorUpdated, lattice.EventProviderStopped:
		f.inventory = host
	case lattice.EventHealthCheckPassed, lattice.EventHealthCheckFailed:
		var d lattice.HealthCheckData
		if ev.DecodeData(&d) == nil {
			if e, ok := s.hosts[host]; ok {
				e.health[d.PublicKey+"\x00"+d.LinkName] = map[bool]string{true: "healthy", false: "unhealthy"}[name == lattice.EventHealthCheckPassed]
			}
		}
		f.inventory = host
	case lattice.EventLinkdefSet, lattice.EventLinkdefDeleted, lattice.EventLinkdefRejected:
		f.links = true
	case lattice.EventRefmapSet:
		f.claims = true
	case app.EventStatus:
		var st app.Status
		if ev.DecodeData(&st) == nil && st.Name != "" {
			s.apps.statusEvent(&st)
		}
	}
	if host == "" || s.isGone(host, now) {
		return followUp{links: f.links, claims: f.claims}
	}
	if e, ok := s.hosts[host]; ok {
		s.heard(e, now)
	} else {
		f.hosts = true // we missed this host's start: ask every host
	}
	return f
}

// inventoryMatches reports whether a heartbeat tells what the inventory says.
func inventoryMatches(inv *lattice.HostInventory, hb lattice.HostHeartbeatData) bool {
	if inv == nil {
		return false
	}
	if len(inv.Actors) != len(hb.Actors) || len(inv.Providers) != len(hb.Providers) {
		return false
	}
	for _, a := range inv.Actors {
		if n, ok := hb.Actors[a.ID]; !ok || n != len(a.Instances) {
			return false
		}
	}
	have := map[string]bool{}
	for _, p := range inv.Providers {
		have[p.ID+"\x00"+p.LinkName] = true
	}
	for _, p := range hb.Providers {
		if !have[p.PublicKey+"\x00"+p.LinkName] {
			return false
		}
	}
	return true
}

// sweep marks hosts silent for longer than staleAfter stale and removes those silent for longer
// than removeAfter.
func (s *state) sweep() {
	now := s.now()
	changed := false
	s.mu.Lock()
	for id, e := range s.hosts {
		silent := now.Sub(e.lastSeen)
		switch {
		case silent > s.removeAfter:
			delete(s.hosts, id)
			changed = true
		case silent > s.staleAfter && !e.stale:
			e.stale = true
			changed = true
		}
	}
	for id, at := range s.gone {
		if now.Sub(at) > s.removeAfter {
			delete(s.gone, id)
		}
	}
	s.mu.Unlock()
	if changed {
		s.touch()
	}
}

// hostIDs returns the ids of the known hosts.
func (s *state) hostIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.hosts))
}

// load is how much a host runs: actors and providers, for choosing among auction winners.
func (s *state) load(hostID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.hosts[hostID]
	if !ok || e.inv == nil {
		return 0
	}
	n := len(e.inv.Providers)
	for _, a := range e.inv.Actors {
		n += len(a.Instances)
	}
	return n
}

// hasLink reports whether the lattice has a link with that identity, as far as known.
func (s *state) hasLink(actorID, contractID, linkName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.ActorID == actorID && l.ContractID == contractID && orDefault(l.LinkName, lattice.DefaultLinkName) == linkName {
			return true
		}
	}
	return false
}

// view builds the View. Connected is left to the caller.
func (s *state) view() View {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := View{
		Lattice: s.lattice, Ready: s.didRefresh, RefreshError: s.refreshErr,
		Hosts: []HostView{}, Actors: []ActorView{}, Providers: []ProviderView{}, Links: []LinkView{},
		Claims: []map[string]string{},
	}
	actors := map[string]*ActorView{}
	for _, e := range s.hosts {
		hv := HostView{
			ID: e.info.ID, FriendlyName: e.info.FriendlyName, Labels: orEmptyMap(e.info.Labels),
			Version: e.info.Version, Stale: e.stale,
			UptimeSeconds: e.info.UptimeSeconds + seconds(now.Sub(e.uptimeAt)),
			SilentSeconds: seconds(now.Sub(e.lastSeen)),
		}
		if e.uptimeAt.IsZero() {
			hv.UptimeSeconds = e.info.UptimeSeconds
		}
		if e.inv != nil {
			hv.Actors, hv.Providers = len(e.inv.Actors), len(e.inv.Providers)
			for _, a := range e.inv.Actors {
				hv.Instances += len(a.Instances)
				av, ok := actors[a.ID]
				if !ok {
					av = s.actorView(a)
					actors[a.ID] = av
				}
				rev := 0
				if len(a.Instances) > 0 {
					rev = a.Instances[0].Revision
				}
				av.Hosts = append(av.Hosts, ActorPlacement{HostID: e.info.ID, ImageRef: a.ImageRef, Instances: len(a.Instances), Revision: rev,
					InUse: a.InstancesInUse, Idle: a.InstancesIdle, MinInstances: a.MinInstances, MaxInstances: a.MaxInstances})
				av.Instances += len(a.Instances)
			}
			for _, p := range e.inv.Providers {
				v.Providers = append(v.Providers, s.providerView(e, p))
			}
		}
		v.Hosts = append(v.Hosts, hv)
	}
	for _, av := range actors {
		slices.SortFunc(av.Hosts, func(a, b ActorPlacement) int { return cmp.Compare(a.HostID, b.HostID) })
		v.Actors = append(v.Actors, *av)
	}
	for _, l := range s.links {
		v.Links = append(v.Links, linkView(l))
	}
	for _, sub := range slices.Sorted(maps.Keys(s.claims)) {
		v.Claims = append(v.Claims, maps.Clone(s.claims[sub]))
	}
	v.Applications = s.appsView()
	slices.SortFunc(v.Hosts, func(a, b HostView) int {
		return cmp.Or(cmp.Compare(a.FriendlyName, b.FriendlyName), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(v.Actors, func(a, b ActorView) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(v.Providers, func(a, b ProviderView) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID), cmp.Compare(a.LinkName, b.LinkName), cmp.Compare(a.HostID, b.HostID))
	})
	slices.SortFunc(v.Links, func(a, b LinkView) int {
		return cmp.Or(cmp.Compare(a.ActorID, b.ActorID), cmp.Compare(a.ContractID, b.ContractID), cmp.Compare(a.LinkName, b.LinkName))
	})
	return v
}

// actorView starts an actor's view from its inventory entry and claims. Callers hold mu.
func (s *state) actorView(a lattice.ActorDescription) *ActorView {
	av := &ActorView{ID: a.ID, Name: a.Name, Caps: []string{}, Hosts: []ActorPlacement{}}
	if c, ok := s.claims[a.ID]; ok {
		av.Caps = splitList(c["caps"])
		av.Issuer, av.Version, av.CallAlias = c["iss"], c["version"], c["call_alias"]
		if av.Name == "" {
			av.Name = c["name"]
		}
	}
	return av
}

// providerView describes a provider of a host's inventory. Callers hold mu.
func (s *state) providerView(e *hostEntry, p lattice.ProviderDescription) ProviderView {
	health := p.Health
	if p.State == "" { // not a Trellis host: health comes from the events
		health = e.health[p.ID+"\x00"+p.LinkName]
	}
	pv := ProviderView{
		ID: p.ID, Name: p.Name, ContractID: p.ContractID, LinkName: p.LinkName, HostID: e.info.ID,
		ImageRef: p.ImageRef, InstanceID: p.InstanceID, Revision: p.Revision, Restarts: p.Restarts,
		Status: providerStatus(p.State, health),
	}
	if c, ok := s.claims[p.ID]; ok {
		if pv.Name == "" {
			pv.Name = c["name"]
		}
		if pv.ContractID == "" {
			pv.ContractID = c["contract_id"]
		}
	}
	return pv
}

func seconds(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / time.Second)
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
