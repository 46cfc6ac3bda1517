package reconciler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

type actionKind int

const (
	startActor actionKind = iota
	stopActor
	updateActor
	startProvider
	stopProvider
	putLink
	deleteLink
	limitActor // set an actor's min and max live instances on a host (scale with count 0)
)

func (k actionKind) String() string {
	return [...]string{"start actor", "stop actor", "update actor", "start provider", "stop provider", "put link", "delete link", "set actor instance limits"}[k]
}

// action is one control command a pass decided on.
type action struct {
	kind    actionKind
	host    string
	key     pendingKey // starts and stops: what to remember as in flight
	current int        // starts and stops: what the host ran when it was decided
	count   int
	image   string // the reference to start or update to
	actorID string
	// starts and limits: the scaler's min_instances and max_instances (nil: not set)
	minInst, maxInst *uint16
	// providers
	provider lattice.ProviderDescription // the one to stop
	linkName string
	contract string
	config   string
	// links
	link lattice.LinkDefinition

	annotations map[string]string
	// rollTo, when set, marks the command as a step of the component's rolling update (a live
	// update, or a stop that replaces an older image) to that image on the host.
	rollTo string
}

// planner decides, from one view of the lattice and what is in flight, what to do for each app
// and what to say of it. It sends nothing.
type planner struct {
	w   *world
	mem *inflight
	// signer signs the links it puts (nil: unsigned); issuers, when set, are the only signers
	// whose links the hosts apply; now is when the plan is made (signatures are checked at it).
	signer  *lattice.KeyPair
	issuers []string
	now     time.Time
}

// compPlan is what planning one component found.
type compPlan struct {
	status     app.ComponentStatus
	failure    string          // why it cannot be brought up, "" when nothing is wrong
	notReady   map[string]bool // hosts that do not run their share yet
	ids        []string        // actor or provider keys running the right image, then others
	extra      bool            // more runs than desired (being stopped)
	wrongHosts int             // hosts still running an older image (being updated or replaced)
}

// plan decides for a deployed app.
func (p *planner) plan(name string, m *oam.Manifest, prev *app.Status) ([]action, app.Status) {
	var acts []action
	st := app.Status{Name: name, Version: m.Version()}
	comps := map[string]*compPlan{}
	for i := range m.Spec.Components {
		c := &m.Spec.Components[i]
		var cp *compPlan
		switch c.Type {
		case oam.TypeActor:
			cp = p.actor(name, c, &acts)
		case oam.TypeCapability:
			cp = p.capability(name, c, &acts)
		default:
			continue
		}
		comps[c.Name] = cp
		st.Components = append(st.Components, cp.status)
	}
	removed := p.stopRemoved(name, m)
	acts = append(acts, removed...)
	linkActs, links, linkMsgs, linkFailures := p.links(name, m, comps, prev)
	acts = append(acts, linkActs...)
	st.Links = links

	var missing, failures []string
	for i := range m.Spec.Components {
		c := &m.Spec.Components[i]
		cp := comps[c.Name]
		if cp == nil {
			continue
		}
		cs := cp.status
		short := cs.Actual < cs.Desired
		switch {
		case short && cp.failure != "":
			failures = append(failures, c.Name+": "+cp.failure)
		case short:
			missing = append(missing, fmt.Sprintf("%s: %d of %d %s", c.Name, cs.Actual, cs.Desired, unitWord(c.Type)))
		case cp.wrongHosts > 0:
			missing = append(missing, fmt.Sprintf("%s: updating to %s on %d host(s)", c.Name, c.Properties.Image, cp.wrongHosts))
		case cp.extra:
			missing = append(missing, c.Name+": stopping what is no longer wanted")
		}
	}
	failures = append(failures, linkFailures...)
	missing = append(missing, linkMsgs...)
	if len(removed) > 0 {
		missing = append(missing, "stopping what the app no longer asks for")
	}
	switch {
	case len(failures) > 0:
		st.State = app.StateFailed
		st.Message = strings.Join(append(failures, missing...), "; ")
	case len(missing) > 0:
		st.State = app.StateReconciling
		st.Message = strings.Join(missing, "; ")
	default:
		st.State = app.StateDeployed
	}
	for _, h := range p.w.hosts {
		ready := true
		for _, cp := range comps {
			if cp.notReady[h.id] {
				ready = false
			}
		}
		st.Hosts = append(st.Hosts, app.HostShare{HostID: h.id, Ready: ready})
	}
	return acts, st
}

func unitWord(typ string) string {
	if typ == oam.TypeCapability {
		return "hosts"
	}
	return "instances"
}

// scaler returns the component's scaler kind, replicas, spreads (one unnamed spread when the
// manifest gives none) and, for a spreadscaler, each spread's share of the replicas (wadm's
// split, oam.ScalerProperties.SpreadReplicas). Without a scaler (wadm's implied one included,
// oam.Component.EffectiveScaler) nothing is to run.
func scaler(c *oam.Component) (kind string, replicas int, spreads []oam.Spread, counts []int) {
	kind, sc := c.EffectiveScaler()
	if sc == nil {
		return "", 0, nil, nil
	}
	spreads, counts = sc.Spread, sc.SpreadReplicas()
	if len(spreads) == 0 {
		spreads, counts = []oam.Spread{{Name: defaultSpread}}, []int{sc.Replicas}
	}
	return kind, sc.Replicas, spreads, counts
}

func spreadName(s oam.Spread) string {
	if s.Name == "" {
		return defaultSpread
	}
	return s.Name
}

func requirementText(req map[string]string) string {
	keys := slices.Sorted(maps.Keys(req))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + req[k]
	}
	return strings.Join(parts, ",")
}

// eligible returns the hosts whose labels meet the requirements, less those excluded.
func (p *planner) eligible(req map[string]string, exclude func(*hostState) bool) []string {
	var out []string
	for _, h := range p.w.hosts {
		if h.matches(req) && (exclude == nil || !exclude(h)) {
			out = append(out, h.id)
		}
	}
	return out
}

// actor plans an actor component: instances per spread and host, then the rolling update of
// hosts that run an older image.
func (p *planner) actor(appName string, c *oam.Component, acts *[]action) *compPlan {
	cp := &compPlan{notReady: map[string]bool{}}
	cp.status = app.ComponentStatus{Name: c.Name, Type: c.Type, Image: c.Properties.Image}
	image := c.Properties.Image
	kind, replicas, spreads, counts := scaler(c)
	units := map[string][]actorUnit{}
	wrong := map[string]bool{} // hosts running an older image of the component
	var right, others []string
	for _, h := range p.w.hosts {
		units[h.id] = h.actorUnits(appName, c.Name)
		for _, u := range units[h.id] {
			if u.image != image {
				wrong[h.id] = true
				others = append(others, u.actorID)
			} else {
				right = append(right, u.actorID)
			}
		}
	}
	cp.ids = uniqueKeys(right, others)
	busy := p.rolling(appName, c.Name, wrong)
	known := map[string]bool{}
	for i, sp := range spreads {
		sn := spreadName(sp)
		known[sn] = true
		st := spreadState{name: sn, eligible: p.eligible(sp.Requirements, nil), running: map[string]int{}, good: map[string]int{},
			avoid: p.avoid(appName, c.Name, wrong), daemon: kind == oam.TraitDaemonScaler, replicas: replicas, want: counts[i]}
		for _, h := range p.w.hosts {
			for _, u := range units[h.id] {
				st.running[h.id] += u.bySpread[sn]
				if u.image == image {
					st.good[h.id] += u.bySpread[sn]
				}
			}
		}
		if replicas > 0 && len(st.eligible) == 0 && cp.failure == "" {
			cp.failure = noHostText(sp, len(p.w.hosts))
		}
		*acts = append(*acts, p.place(appName, c.Name, st, cp,
			func(host string, n int) action {
				least, most := instanceLimits(c)
				return action{kind: startActor, host: host, count: n, image: image, annotations: annotations(appName, c.Name, sn),
					minInst: least, maxInst: most}
			},
			func(host string, n int) (action, bool) {
				u, ok := stopUnit(units[host], sn, image)
				return action{kind: stopActor, host: host, count: min(n, u.bySpread[sn]), actorID: u.actorID,
					annotations: annotations(appName, c.Name, sn)}, ok
			})...)
	}
	// Instances of spreads the manifest no longer has.
	for _, h := range p.w.hosts {
		for _, u := range units[h.id] {
			for sn, n := range u.bySpread {
				if !known[sn] && n > 0 {
					*acts = append(*acts, action{kind: stopActor, host: h.id, key: pendingKey{h.id, appName, c.Name, sn, true},
						current: n, count: n, actorID: u.actorID, annotations: annotations(appName, c.Name, sn)})
					cp.extra = true
				}
			}
		}
	}
	*acts = append(*acts, p.limits(c, units)...)
	// Hosts on an older image: one at a time, a live update, or a replacement when the host
	// refused the update (a revision that is not higher, another actor key).
	wrongHosts := p.inOrder(wrong)
	cp.wrongHosts = len(wrongHosts)
	if len(wrongHosts) > 0 && !busy {
		hid := wrongHosts[0]
		hc := hostComp{hid, appName, c.Name}
		for _, u := range units[hid] {
			if u.image == image {
				continue
			}
			switch {
			case p.mem.mustReplace(hc) && p.host(hid).unmanagedActor(u.actorID, appName, c.Name):
				cp.failure = fmt.Sprintf("cannot replace actor %s on host %s: instances not managed by this app run there too", u.actorID, hid)
			case p.mem.mustReplace(hc):
				for sn, n := range u.bySpread {
					*acts = append(*acts, action{kind: stopActor, host: hid, key: pendingKey{hid, appName, c.Name, sn, true},
						current: n, count: n, actorID: u.actorID, annotations: annotations(appName, c.Name, sn), rollTo: image})
				}
			default:
				*acts = append(*acts, action{kind: updateActor, host: hid, key: pendingKey{host: hid, app: appName, comp: c.Name},
					actorID: u.actorID, image: image, rollTo: image})
			}
			break
		}
	}
	p.finish(appName, c.Name, cp)
	return cp
}

// instanceLimits are the component's scaler's min_instances and max_instances, nil when not set.
func instanceLimits(c *oam.Component) (least, most *uint16) {
	_, sc := c.EffectiveScaler()
	if sc == nil {
		return nil, nil
	}
	conv := func(p *int) *uint16 {
		if p == nil {
			return nil
		}
		n := uint16(*p) // Validate bounds it
		return &n
	}
	return conv(sc.MinInstances), conv(sc.MaxInstances)
}

// limits sets the scaler's min and max instances on the hosts that run the component's actor with
// other limits. A host that reports no max (one that does not know them) is left alone.
func (p *planner) limits(c *oam.Component, units map[string][]actorUnit) []action {
	least, most := instanceLimits(c)
	if least == nil && most == nil {
		return nil
	}
	var acts []action
	for _, h := range p.w.hosts {
		for _, u := range units[h.id] {
			if u.image != c.Properties.Image {
				continue
			}
			for _, a := range h.actors {
				if a.ID != u.actorID || a.MaxInstances == 0 {
					continue
				}
				if (least != nil && a.MinInstances != int(*least)) || (most != nil && a.MaxInstances != int(*most)) {
					acts = append(acts, action{kind: limitActor, host: h.id, actorID: a.ID, image: u.image, minInst: least, maxInst: most})
				}
			}
		}
	}
	return acts
}

// spreadState is one spread of a component as it stands on every host.
type spreadState struct {
	name     string
	eligible []string
	running  map[string]int  // what runs for the spread on each host, on any image
	good     map[string]int  // of that, on the manifest's image
	avoid    map[string]bool // hosts that take nothing new now
	perHost  int             // at most this many on one host; 0 for no limit
	daemon   bool            // a daemonscaler: replicas on every eligible host
	replicas int
	want     int // a spreadscaler's share for this spread
}

// place decides one spread: how many run on each host (what runs, plus what is in flight), and
// the starts and stops that get there. Stops wait until every start the spread waits for has
// come up (or cannot, for now): moving an instance never leaves fewer running (make before
// break). It counts the spread into the component's status.
func (p *planner) place(appName, comp string, s spreadState, cp *compPlan,
	start func(host string, n int) action, stop func(host string, n int) (action, bool)) []action {
	cur := map[string]int{}
	for _, h := range p.w.hosts {
		run := s.running[h.id]
		up := p.mem.remaining(pendingKey{h.id, appName, comp, s.name, false}, run)
		down := p.mem.remaining(pendingKey{h.id, appName, comp, s.name, true}, run)
		cur[h.id] = max(run+up-down, 0)
	}
	want, target := s.want, map[string]int{}
	if s.daemon {
		for _, h := range s.eligible {
			target[h] = s.replicas
		}
		want = s.replicas * len(s.eligible)
	} else {
		target = balance(cur, s.eligible, want, s.perHost, s.avoid)
	}
	cp.status.Desired += want
	starting := false
	for _, h := range p.w.hosts {
		if s.running[h.id] < target[h.id] && !s.avoid[h.id] {
			starting = true
		}
	}
	var acts []action
	good := 0
	for _, h := range p.w.hosts {
		t, now := target[h.id], cur[h.id]
		key := pendingKey{h.id, appName, comp, s.name, false}
		switch {
		case t > now && !s.avoid[h.id]:
			a := start(h.id, t-now)
			a.key, a.current = key, s.running[h.id]
			acts = append(acts, a)
		case t < now && starting:
			cp.extra = true
		case t < now:
			if a, ok := stop(h.id, now-t); ok {
				key.stop = true
				a.key, a.current = key, s.running[h.id]
				acts = append(acts, a)
				cp.extra = true
			}
		}
		if s.good[h.id] < t {
			cp.notReady[h.id] = true
		} else if t > 0 {
			p.mem.succeeded(hostComp{h.id, appName, comp})
		}
		good += s.good[h.id]
	}
	cp.status.Actual += min(good, want)
	if good > want {
		cp.extra = true
	}
	return acts
}

// rolling forgets the updates of hosts that run the manifest's image now and reports whether an
// update or replacement of the component is still in flight on a host that does not.
func (p *planner) rolling(appName, comp string, wrong map[string]bool) bool {
	busy := false
	for _, h := range p.w.hosts {
		hc := hostComp{h.id, appName, comp}
		if !wrong[h.id] {
			p.mem.updateDone(hc)
		} else if p.mem.updating(hc) {
			busy = true
		}
	}
	return busy
}

// avoid returns the hosts that take no new instance of the component now: those running an
// older image of it (a start of other bytes beside it would be refused), backing off after a
// failure, or in the middle of an update.
func (p *planner) avoid(appName, comp string, wrong map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, h := range p.w.hosts {
		hc := hostComp{h.id, appName, comp}
		if wrong[h.id] || p.mem.backingOff(hc) || p.mem.updating(hc) {
			out[h.id] = true
		}
	}
	return out
}

// finish gives a component that is short the last failure a host reported for it.
func (p *planner) finish(appName, comp string, cp *compPlan) {
	if cp.failure == "" && cp.status.Actual < cp.status.Desired {
		cp.failure = p.mem.failure(appName, comp)
	}
	cp.status.Message = cp.failure
}

// uniqueKeys lists the keys of right, then of others, each once.
func uniqueKeys(right, others []string) []string {
	var out []string
	for _, k := range append(right, others...) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// stopUnit picks the unit to stop instances of in a spread: one on an older image first.
func stopUnit(units []actorUnit, spread, image string) (actorUnit, bool) {
	for _, older := range []bool{true, false} {
		for _, u := range units {
			if u.bySpread[spread] > 0 && (u.image != image) == older {
				return u, true
			}
		}
	}
	return actorUnit{}, false
}

func noHostText(s oam.Spread, hosts int) string {
	if hosts == 0 {
		return "no host in the lattice"
	}
	if len(s.Requirements) == 0 {
		return "no host can run it"
	}
	return "no host has label " + requirementText(s.Requirements)
}

// inOrder returns the hosts of a set in host order.
func (p *planner) inOrder(set map[string]bool) []string {
	var out []string
	for _, h := range p.w.hosts {
		if set[h.id] {
			out = append(out, h.id)
		}
	}
	return out
}

func (p *planner) host(id string) *hostState {
	for _, h := range p.w.hosts {
		if h.id == id {
			return h
		}
	}
	return nil
}

// capability plans a provider component: at most one per host and link name, a host's provider
// in one spread at most; an older image is replaced host by host (a provider has no live update).
func (p *planner) capability(appName string, c *oam.Component, acts *[]action) *compPlan {
	cp := &compPlan{notReady: map[string]bool{}}
	cp.status = app.ComponentStatus{Name: c.Name, Type: c.Type, Image: c.Properties.Image}
	image, linkName := c.Properties.Image, c.LinkNameOrDefault()
	kind, replicas, spreads, counts := scaler(c)
	units := map[string][]lattice.ProviderDescription{}
	wrong := map[string]bool{}
	var right, others []string
	for _, h := range p.w.hosts {
		units[h.id] = h.providerUnits(appName, c.Name)
		for _, u := range units[h.id] {
			if u.ImageRef != image {
				wrong[h.id] = true
				others = append(others, u.ID)
			} else {
				right = append(right, u.ID)
			}
		}
	}
	cp.ids = uniqueKeys(right, others)
	busy := p.rolling(appName, c.Name, wrong)
	known := map[string]bool{}
	for i, sp := range spreads {
		sn := spreadName(sp)
		known[sn] = true
		// Hosts that run this provider for someone else, or for another spread, cannot take it.
		elsewhere := func(h *hostState) bool {
			return h.providerTaken(image, linkName, appName, c.Name) || slices.ContainsFunc(units[h.id],
				func(u lattice.ProviderDescription) bool { return spreadOf(u.Annotations) != sn })
		}
		st := spreadState{name: sn, eligible: p.eligible(sp.Requirements, elsewhere), running: map[string]int{}, good: map[string]int{},
			avoid: p.avoid(appName, c.Name, nil), perHost: 1, daemon: kind == oam.TraitDaemonScaler, replicas: 1, want: counts[i]}
		for _, h := range p.w.hosts {
			for _, u := range units[h.id] {
				if spreadOf(u.Annotations) == sn {
					st.running[h.id]++
					if u.ImageRef == image {
						st.good[h.id]++
					}
				}
			}
		}
		if replicas > 0 && len(st.eligible) == 0 && cp.failure == "" {
			if len(p.eligible(sp.Requirements, nil)) > 0 {
				cp.failure = fmt.Sprintf("every host with the required labels already runs %s with link name %s, not managed by this app", image, linkName)
			} else {
				cp.failure = noHostText(sp, len(p.w.hosts))
			}
		}
		*acts = append(*acts, p.place(appName, c.Name, st, cp,
			func(host string, n int) action {
				return action{kind: startProvider, host: host, count: n, image: image, linkName: linkName,
					contract: c.Properties.Contract, config: c.ConfigJSON(), annotations: annotations(appName, c.Name, sn)}
			},
			func(host string, _ int) (action, bool) {
				i := slices.IndexFunc(units[host], func(u lattice.ProviderDescription) bool { return spreadOf(u.Annotations) == sn })
				if i < 0 {
					return action{}, false
				}
				return action{kind: stopProvider, host: host, count: 1, provider: units[host][i]}, true
			})...)
	}
	for _, h := range p.w.hosts {
		for _, u := range units[h.id] {
			if sn := spreadOf(u.Annotations); !known[sn] {
				*acts = append(*acts, action{kind: stopProvider, host: h.id, key: pendingKey{h.id, appName, c.Name, sn, true}, current: 1, count: 1, provider: u})
				cp.extra = true
			}
		}
	}
	wrongHosts := p.inOrder(wrong)
	cp.wrongHosts = len(wrongHosts)
	if len(wrongHosts) > 0 && !busy {
		hid := wrongHosts[0]
		for _, u := range units[hid] {
			if u.ImageRef != image {
				*acts = append(*acts, action{kind: stopProvider, host: hid, key: pendingKey{hid, appName, c.Name, spreadOf(u.Annotations), true},
					current: 1, count: 1, provider: u, rollTo: image})
			}
		}
	}
	p.finish(appName, c.Name, cp)
	return cp
}

func spreadOf(a map[string]string) string {
	if s := a[AnnotationSpread]; s != "" {
		return s
	}
	return defaultSpread
}

// stopRemoved stops what the app runs for components its manifest no longer has.
func (p *planner) stopRemoved(appName string, m *oam.Manifest) []action {
	var acts []action
	for _, h := range p.w.hosts {
		for _, a := range h.actors {
			perComp := map[string]map[string]int{}
			for _, in := range a.Instances {
				an, comp, sn, ok := managedBy(in.Annotations)
				if !ok || an != appName {
					continue
				}
				if c, ok := m.Component(comp); ok && c.Type == oam.TypeActor {
					continue
				}
				if perComp[comp] == nil {
					perComp[comp] = map[string]int{}
				}
				perComp[comp][sn]++
			}
			for comp, spreads := range perComp {
				for sn, n := range spreads {
					acts = append(acts, action{kind: stopActor, host: h.id, key: pendingKey{h.id, appName, comp, sn, true},
						current: n, count: n, actorID: a.ID, annotations: annotations(appName, comp, sn)})
				}
			}
		}
		for _, pr := range h.providers {
			an, comp, sn, ok := managedBy(pr.Annotations)
			if !ok || an != appName {
				continue
			}
			if c, ok := m.Component(comp); ok && c.Type == oam.TypeCapability {
				continue
			}
			acts = append(acts, action{kind: stopProvider, host: h.id, key: pendingKey{h.id, appName, comp, orDefault(sn), true}, current: 1, count: 1, provider: pr})
		}
	}
	return acts
}

func orDefault(s string) string {
	if s == "" {
		return defaultSpread
	}
	return s
}
