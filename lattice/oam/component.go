package oam

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"sort"
)

// Component returns the component named name (the first one, should a manifest that failed
// validation hold two).
func (m *Manifest) Component(name string) (*Component, bool) {
	for i := range m.Spec.Components {
		if m.Spec.Components[i].Name == name {
			return &m.Spec.Components[i], true
		}
	}
	return nil, false
}

// ConfigJSON is the provider config as a launch command carries it: an object as compact JSON, a
// string as itself, "" when there is none.
func (c *Component) ConfigJSON() string {
	raw := bytes.TrimSpace(c.Properties.Config)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// LinkNameOrDefault is the capability's link name, "default" when the manifest gives none.
func (c *Component) LinkNameOrDefault() string {
	if c.Properties.LinkName == "" {
		return DefaultLinkName
	}
	return c.Properties.LinkName
}

// Scaler returns the component's scaler trait (spreadscaler or daemonscaler) and its properties,
// which belong to the manifest; p is nil when the component has no scaler trait.
//
// What wadm 0.4 to 0.7 do without one (scaler/manager.rs, components_to_scalers): an actor with
// no scaler trait gets no scaler, so no instance of it is started, while its linkdef traits are
// still put. A capability whose "traits" key is left out entirely gets an implied spreadscaler
// of 1 replica with no spread ("allow providers to omit the scaler entirely for simplicity"), so
// wadm starts one instance of the provider on any host; a capability with traits but no scaler
// among them gets nothing. Scaler reports only what the manifest says (no scaler: nothing to run);
// EffectiveScaler adds wadm's implied one.
func (c *Component) Scaler() (traitType string, p *ScalerProperties) {
	for i := range c.Traits {
		if isScaler(c.Traits[i].Type) && c.Traits[i].Scaler != nil {
			return c.Traits[i].Type, c.Traits[i].Scaler
		}
	}
	return "", nil
}

// EffectiveScaler is Scaler with wadm's implied scaler added: a capability without traits runs
// as a spreadscaler of 1 replica with no spread. (wadm tells a missing "traits" key from an empty
// list, "traits: []", which implies nothing; Parse reads both as no traits.) The implied
// properties are a new value each call.
func (c *Component) EffectiveScaler() (traitType string, p *ScalerProperties) {
	if t, p := c.Scaler(); p != nil {
		return t, p
	}
	if c.Type == TypeCapability && len(c.Traits) == 0 {
		return TraitSpreadScaler, &ScalerProperties{Replicas: 1}
	}
	return "", nil
}

// LinkDefs returns the component's linkdef traits' properties, in manifest order.
func (c *Component) LinkDefs() []LinkProperties {
	var out []LinkProperties
	for _, t := range c.Traits {
		if t.Type == TraitLinkDef && t.Link != nil {
			out = append(out, *t.Link)
		}
	}
	return out
}

// Spread weights: DefaultWeight is a spread's weight when the manifest gives none, as in wadm;
// MaxWeight bounds a weight (weights are relative, so no rule needs more).
const (
	DefaultWeight = 100
	MaxWeight     = 1_000_000
)

// SpreadReplicas is how many of a spreadscaler's replicas go to each spread, in the order of
// Spread; nil when there are no spreads (then every replica may go to any host). It is wadm's
// rule (scaler/spreadscaler, compute_spread): weights are shares relative to each other, a
// missing weight counts DefaultWeight; spread i gets Replicas×weight_i / Σweights, rounded down,
// and the replicas that rounding left over go one each to the spreads of highest weight first
// (ties in manifest order). So 80 and 20 of 10 replicas give 8 and 2, but of 4 replicas 4 and 0
// (3.2 and 0.8 round down to 3 and 0, the one left over goes to the heavier spread); 40 and 40 of
// 5 give 3 and 2.
// A daemonscaler does not use it: it runs Replicas on every host matching any spread.
func (p *ScalerProperties) SpreadReplicas() []int {
	n := len(p.Spread)
	if n == 0 {
		return nil
	}
	weight := func(i int) uint64 {
		if w := p.Spread[i].Weight; w != nil && *w > 0 {
			return uint64(min(*w, MaxWeight))
		}
		return DefaultWeight
	}
	var total uint64
	for i := range p.Spread {
		total += weight(i)
	}
	replicas := max(p.Replicas, 0)
	out := make([]int, n)
	assigned := 0
	for i := range p.Spread {
		// replicas×weight may pass 64 bits; the quotient is at most replicas.
		hi, lo := bits.Mul64(uint64(replicas), weight(i))
		q, _ := bits.Div64(hi, lo, total)
		out[i] = int(q)
		assigned += out[i]
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return weight(order[a]) > weight(order[b]) })
	for k := 0; assigned < replicas; k = (k + 1) % n {
		out[order[k]]++
		assigned++
	}
	return out
}
