package oam

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// Canonical is the manifest as compact JSON, the same bytes for the same manifest: fields in a
// fixed order, map keys and config keys sorted, no HTML escaping. Parse reads it back to an equal
// manifest, so it is the form to store and to compare.
func (m *Manifest) Canonical() ([]byte, error) {
	c := *m
	c.Spec.Components = slices.Clone(m.Spec.Components)
	for i := range c.Spec.Components {
		props := &c.Spec.Components[i].Properties
		if len(props.Config) > 0 {
			raw, err := canonicalJSON(props.Config)
			if err != nil {
				return nil, err
			}
			props.Config = raw
		}
	}
	return marshal(&c)
}

// marshal is json.Marshal without HTML escaping or the encoder's newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// canonicalJSON rewrites JSON with sorted keys, numbers kept as written.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return marshal(v)
}

// MarshalYAML writes the manifest as YAML in the field order of Canonical (yaml.Marshal(m)).
// Read YAML with Parse.
func (m Manifest) MarshalYAML() (any, error) {
	data, err := m.Canonical()
	if err != nil {
		return nil, err
	}
	n, err := jsonNode(data)
	if err != nil {
		return nil, err
	}
	return n.Content[0], nil
}

// Clone is a deep copy of the manifest.
func (m *Manifest) Clone() *Manifest {
	if m == nil {
		return nil
	}
	c := *m
	c.Metadata.Annotations = maps.Clone(m.Metadata.Annotations)
	c.Metadata.Labels = maps.Clone(m.Metadata.Labels)
	c.Spec.Components = slices.Clone(m.Spec.Components)
	for i := range c.Spec.Components {
		c.Spec.Components[i] = c.Spec.Components[i].clone()
	}
	return &c
}

func (c Component) clone() Component {
	c.Properties.Config = slices.Clone(c.Properties.Config)
	c.Traits = slices.Clone(c.Traits)
	for i := range c.Traits {
		t := &c.Traits[i]
		if t.Scaler != nil {
			t.Scaler = t.Scaler.clone()
		}
		if t.Link != nil {
			l := *t.Link
			l.Values = maps.Clone(l.Values)
			t.Link = &l
		}
	}
	return c
}

func (p *ScalerProperties) clone() *ScalerProperties {
	s := *p
	s.Spread = slices.Clone(p.Spread)
	for k := range s.Spread {
		sd := &s.Spread[k]
		sd.Requirements = maps.Clone(sd.Requirements)
		if sd.Weight != nil {
			w := *sd.Weight
			sd.Weight = &w
		}
	}
	return &s
}
