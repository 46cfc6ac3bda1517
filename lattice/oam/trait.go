package oam

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// A trait is written in wadm's form, {"type": "spreadscaler", "properties": {...}}; in YAML it
// is read and written with its manifest (Parse, Manifest.MarshalYAML). Reading one checks its
// shape only (Validate checks its meaning): an unknown type is kept with no properties, so that
// Validate can name it.

// traitForm is a trait as written.
type traitForm struct {
	Type       string `json:"type"`
	Properties any    `json:"properties"`
}

// MarshalJSON writes the trait in wadm's form.
func (t Trait) MarshalJSON() ([]byte, error) {
	var props any = struct{}{}
	switch {
	case isScaler(t.Type) && t.Scaler != nil:
		props = t.Scaler
	case t.Type == TraitLinkDef && t.Link != nil:
		props = t.Link
	}
	return marshal(traitForm{Type: t.Type, Properties: props})
}

// UnmarshalJSON reads a trait in wadm's form.
func (t *Trait) UnmarshalJSON(data []byte) error {
	if !json.Valid(data) {
		return errors.New("trait: invalid JSON")
	}
	n, err := jsonNode(data)
	if err != nil {
		return err
	}
	d := newDecoder(len(data))
	got := d.trait(n, "")
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return &ValidationError{Errors: d.problems}
	}
	*t = got
	return nil
}

func isScaler(traitType string) bool {
	return traitType == TraitSpreadScaler || traitType == TraitDaemonScaler
}

// trait reads one trait at path.
func (d *decoder) trait(n *yaml.Node, path string) Trait {
	f := d.fields(n, path, "type", "properties")
	t := Trait{Type: d.str(f["type"], fieldPath(path, "type"))}
	pp := fieldPath(path, "properties")
	props := f["properties"]
	if absent(props) {
		return t // Validate says what is missing
	}
	switch {
	case isScaler(t.Type):
		t.Scaler = d.scaler(props, pp)
	case t.Type == TraitLinkDef:
		t.Link = d.link(props, pp)
	}
	return t
}

func (d *decoder) scaler(n *yaml.Node, path string) *ScalerProperties {
	f := d.fields(n, path, "replicas", "instances", "spread", "min_instances", "max_instances")
	if f == nil {
		return nil
	}
	p := &ScalerProperties{}
	rp, ip := fieldPath(path, "replicas"), fieldPath(path, "instances")
	rn, in := f["replicas"], f["instances"]
	r, rok := d.integer(rn, rp)
	i, iok := d.integer(in, ip)
	switch {
	case rn == nil && in == nil:
		d.problem(rp, d.line(path), "replicas is required: how many instances to run")
	case rok && iok && r != i:
		d.problem(ip, d.line(ip), "instances ("+strconv.Itoa(i)+") and replicas ("+strconv.Itoa(r)+") differ: give one of them")
	case rok:
		p.Replicas = r
	case iok:
		p.Replicas = i
		d.note(rp, d.line(ip))
	}
	for _, lim := range []struct {
		name string
		dst  **int
	}{{"min_instances", &p.MinInstances}, {"max_instances", &p.MaxInstances}} {
		if n := f[lim.name]; !absent(n) {
			if v, ok := d.integer(n, fieldPath(path, lim.name)); ok {
				*lim.dst = &v
			}
		}
	}
	sp := fieldPath(path, "spread")
	for k, item := range d.sequence(f["spread"], sp) {
		p.Spread = append(p.Spread, d.spread(item, indexPath(sp, k)))
	}
	return p
}

func (d *decoder) spread(n *yaml.Node, path string) Spread {
	f := d.fields(n, path, "name", "requirements", "weight")
	s := Spread{
		Name:         d.str(f["name"], fieldPath(path, "name")),
		Requirements: d.stringMap(f["requirements"], fieldPath(path, "requirements")),
	}
	if w := f["weight"]; !absent(w) {
		if v, ok := d.integer(w, fieldPath(path, "weight")); ok {
			s.Weight = &v
		}
	}
	return s
}

func (d *decoder) link(n *yaml.Node, path string) *LinkProperties {
	f := d.fields(n, path, "target", "values")
	if f == nil {
		return nil
	}
	return &LinkProperties{
		Target: d.str(f["target"], fieldPath(path, "target")),
		Values: d.stringMap(f["values"], fieldPath(path, "values")),
	}
}
