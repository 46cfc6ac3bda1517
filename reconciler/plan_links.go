package reconciler

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// links plans the app's links: each linkdef of an actor to a capability, once both run; and the
// deletion of the links an earlier version put that this one does not declare.
// Links it cannot put (hosts require signed links and it has no key they trust) are failures.
func (p *planner) links(appName string, m *oam.Manifest, comps map[string]*compPlan, prev *app.Status) ([]action, []app.LinkStatus, []string, []string) {
	var acts []action
	var out []app.LinkStatus
	var msgs, fails []string
	want := map[string]bool{}
	for i := range m.Spec.Components {
		c := &m.Spec.Components[i]
		if c.Type != oam.TypeActor {
			continue
		}
		for _, ld := range c.LinkDefs() {
			target, ok := m.Component(ld.Target)
			if !ok {
				continue
			}
			ls := app.LinkStatus{ContractID: target.Properties.Contract, LinkName: target.LinkNameOrDefault(), Source: c.Name, Target: target.Name}
			if ids := comps[c.Name].ids; len(ids) > 0 {
				ls.ActorID = ids[0]
			}
			if ids := comps[target.Name].ids; len(ids) > 0 {
				ls.ProviderID = ids[0]
			}
			// A side that runs nowhere just now (its host was lost) keeps the key the link was put
			// with: the link stays in place for the instances about to start again.
			if old, ok := prevLink(prev, ls); ok {
				ls.ActorID = cmp.Or(ls.ActorID, old.ActorID)
				ls.ProviderID = cmp.Or(ls.ProviderID, old.ProviderID)
			}
			if ls.ActorID == "" || ls.ProviderID == "" {
				waiting := c.Name
				if ls.ActorID != "" {
					waiting = target.Name
				}
				msgs = append(msgs, fmt.Sprintf("link %s → %s: waiting for %s to run", c.Name, target.Name, waiting))
				out = append(out, ls)
				continue
			}
			want[lattice.LinkID(ls.ActorID, ls.ContractID, ls.LinkName)] = true
			have, ok := p.w.link(ls.ActorID, ls.ContractID, ls.LinkName)
			values := ld.Values
			if values == nil {
				values = map[string]string{}
			}
			if ok && have.ProviderID == ls.ProviderID && maps.Equal(have.Values, values) && p.applies(&have) {
				ls.Ready = true
			} else {
				l := lattice.LinkDefinition{ActorID: ls.ActorID, ProviderID: ls.ProviderID, ContractID: ls.ContractID,
					LinkName: ls.LinkName, Values: maps.Clone(values)}
				l.Normalize()
				if err := p.sign(&l); err != nil {
					fails = append(fails, fmt.Sprintf("link %s → %s: cannot be put: %v", c.Name, target.Name, err))
				} else {
					acts = append(acts, action{kind: putLink, link: l})
					msgs = append(msgs, fmt.Sprintf("link %s → %s: being put", c.Name, target.Name))
				}
			}
			out = append(out, ls)
		}
	}
	acts = append(acts, p.dropLinks(prev, want, &out, &msgs)...)
	return acts, out, msgs, fails
}

// applies reports whether hosts apply the link as it is in the bucket: any link when they have no
// link issuers, else only one signed by one of them (an unsigned write over the reconciler's
// signed link is put again, signed).
func (p *planner) applies(l *lattice.LinkDefinition) bool {
	return len(p.issuers) == 0 || lattice.VerifyLink(l, p.issuers, p.now) == nil
}

// sign signs a link about to be put with the reconciler's link account; without one, the link
// goes unsigned unless the hosts require signed links.
func (p *planner) sign(l *lattice.LinkDefinition) error {
	if p.signer != nil {
		return lattice.SignLink(l, p.signer)
	}
	if len(p.issuers) > 0 {
		return errors.New("hosts apply only links signed by one of their link issuers (--link-issuers), " +
			"and this reconciler has no link account (--link-account) to sign with")
	}
	return nil
}

// prevLink returns the link the previous status recorded for the same linkdef.
func prevLink(prev *app.Status, ls app.LinkStatus) (app.LinkStatus, bool) {
	if prev == nil {
		return app.LinkStatus{}, false
	}
	for _, old := range prev.Links {
		if !old.Removing && old.Source == ls.Source && old.Target == ls.Target && old.ContractID == ls.ContractID && old.LinkName == ls.LinkName {
			return old, true
		}
	}
	return app.LinkStatus{}, false
}

// dropLinks deletes the links a status records that are no longer wanted, if they are still as
// the reconciler put them (same provider); links someone else changed since are left alone.
// Those still in the bucket stay in the status, marked as being removed, so they are not
// forgotten if the deletion fails.
func (p *planner) dropLinks(prev *app.Status, want map[string]bool, out *[]app.LinkStatus, msgs *[]string) []action {
	if prev == nil {
		return nil
	}
	var acts []action
	for _, ls := range prev.Links {
		if ls.ActorID == "" || ls.ProviderID == "" {
			continue
		}
		id := lattice.LinkID(ls.ActorID, ls.ContractID, ls.LinkName)
		if want[id] {
			continue
		}
		have, ok := p.w.link(ls.ActorID, ls.ContractID, ls.LinkName)
		if !ok || have.ProviderID != ls.ProviderID {
			continue
		}
		acts = append(acts, action{kind: deleteLink, link: have})
		ls.Ready = false
		ls.Removing = true
		*out = append(*out, ls)
		*msgs = append(*msgs, fmt.Sprintf("link %s → %s: being removed", ls.Source, ls.Target))
	}
	return acts
}

// cleanup plans for an app that is not deployed (or no longer exists): stop everything managed
// for it and delete the links its status records. done says nothing is left.
func (p *planner) cleanup(name string, prev *app.Status) ([]action, app.Status, bool) {
	empty := &oam.Manifest{}
	acts := p.stopRemoved(name, empty)
	st := app.Status{Name: name, State: app.StateUndeployed}
	var msgs []string
	acts = append(acts, p.dropLinks(prev, map[string]bool{}, &st.Links, &msgs)...)
	counts := map[string]*app.ComponentStatus{}
	var order []string
	if prev != nil {
		for _, c := range prev.Components {
			counts[c.Name] = &app.ComponentStatus{Name: c.Name, Type: c.Type, Image: c.Image}
			order = append(order, c.Name)
		}
	}
	for _, a := range acts {
		comp := a.key.comp
		if a.kind != stopActor && a.kind != stopProvider {
			continue
		}
		cs, ok := counts[comp]
		if !ok {
			typ := oam.TypeActor
			if a.kind == stopProvider {
				typ = oam.TypeCapability
			}
			cs = &app.ComponentStatus{Name: comp, Type: typ}
			counts[comp] = cs
			order = append(order, comp)
		}
		cs.Actual += a.count
	}
	sort.Strings(order)
	for _, n := range slices.Compact(order) {
		st.Components = append(st.Components, *counts[n])
	}
	if len(acts) > 0 {
		msgs = append([]string{"removing what the app started"}, msgs...)
		st.Message = strings.Join(msgs, "; ")
	}
	return acts, st, len(acts) == 0
}
