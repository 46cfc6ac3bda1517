package oam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Limits a manifest must keep.
const (
	// MaxNameLength bounds metadata.name, which is part of JetStream KV keys.
	MaxNameLength = 128
	// MaxVersionLength bounds the version annotation.
	MaxVersionLength = 256
	// LatestVersion is refused as a version, as wadm refuses it: it names "the newest one".
	LatestVersion = "latest"
	// DefaultLinkName is a capability's link name when the manifest gives none.
	DefaultLinkName = "default"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

var (
	componentTypes = []string{TypeActor, TypeCapability}
	traitTypes     = []string{TraitSpreadScaler, TraitDaemonScaler, TraitLinkDef}
)

// Validate checks the manifest as Parse does and returns a *ValidationError listing every
// problem, or nil. For a manifest built in Go (or changed after Parse) the lines are 0.
func (m *Manifest) Validate() error {
	if errs := m.check(nil); len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// checker gathers the problems of one manifest; lines (path → line) come from Parse.
type checker struct {
	lines map[string]int
	errs  []FieldError
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Line: lineOf(c.lines, path), Reason: fmt.Sprintf(format, args...)})
}

func (m *Manifest) check(lines map[string]int) []FieldError {
	c := &checker{lines: lines}
	c.header("apiVersion", m.APIVersion, APIVersion)
	c.header("kind", m.Kind, Kind)
	c.metadata(&m.Metadata)
	if len(m.Spec.Components) == 0 {
		c.add("spec.components", "an application needs at least one component")
	}

	names := map[string]string{}       // component name → path
	actorImages := map[string]string{} // image → component name
	capImages := map[string]string{}   // image + link name → component name
	var capabilities []string
	for i := range m.Spec.Components {
		comp := &m.Spec.Components[i]
		if comp.Type == TypeCapability && comp.Name != "" {
			capabilities = append(capabilities, comp.Name)
		}
	}
	for i := range m.Spec.Components {
		comp := &m.Spec.Components[i]
		p := indexPath("spec.components", i)
		if comp.Name == "" {
			c.add(fieldPath(p, "name"), "component name is required")
		} else if first, dup := names[comp.Name]; dup {
			c.add(fieldPath(p, "name"), "duplicate component name %q (also %s)", comp.Name, first)
		} else {
			names[comp.Name] = p
		}
		c.properties(comp, p)
		if img := comp.Properties.Image; img != "" {
			switch comp.Type {
			case TypeActor:
				if other, dup := actorImages[img]; dup {
					c.add(fieldPath(fieldPath(p, "properties"), "image"), "actor image %q is already component %q: one image is one actor in a lattice", img, other)
				} else {
					actorImages[img] = comp.Name
				}
			case TypeCapability:
				key := img + "\x00" + comp.LinkNameOrDefault()
				if other, dup := capImages[key]; dup {
					c.add(fieldPath(fieldPath(p, "properties"), "image"), "capability image %q with link name %q is already component %q: give one of them another link_name", img, comp.LinkNameOrDefault(), other)
				} else {
					capImages[key] = comp.Name
				}
			}
		}
		c.traits(m, comp, p, capabilities)
	}
	return c.errs
}

// header checks a header field, which has one accepted value.
func (c *checker) header(field, got, want string) {
	switch got {
	case want:
	case "":
		c.add(field, "%s is required (want %q)", field, want)
	default:
		c.add(field, "unsupported %s %q: want %q", field, got, want)
	}
}

func (c *checker) metadata(md *Metadata) {
	switch name := md.Name; {
	case name == "":
		c.add("metadata.name", "metadata.name is required")
	case len(name) > MaxNameLength:
		c.add("metadata.name", "name is %d characters long; at most %d", len(name), MaxNameLength)
	case !nameRE.MatchString(name):
		c.add("metadata.name", "name %q may hold only letters, digits, '_' and '-', and starts with a letter or digit (it is part of JetStream KV keys)", name)
	}
	if v, ok := md.Annotations[AnnotationVersion]; ok {
		p := fieldPath("metadata.annotations", AnnotationVersion)
		switch {
		case len(v) > MaxVersionLength:
			c.add(p, "version is %d characters long; at most %d", len(v), MaxVersionLength)
		case v == LatestVersion:
			c.add(p, "version %q is reserved (it means the newest version); give the manifest a real version", v)
		}
	}
}

func (c *checker) properties(comp *Component, p string) {
	pp := fieldPath(p, "properties")
	switch comp.Type {
	case TypeActor, TypeCapability:
	case "":
		c.add(fieldPath(p, "type"), "component type is required (known: %s)", strings.Join(componentTypes, ", "))
	case "provider":
		c.add(fieldPath(p, "type"), "unknown component type %q (known: %s): a capability provider is of type capability", comp.Type, strings.Join(componentTypes, ", "))
	default:
		c.add(fieldPath(p, "type"), "unknown component type %q (known: %s)", comp.Type, strings.Join(componentTypes, ", "))
	}
	props := &comp.Properties
	switch {
	case props.Image == "":
		c.add(fieldPath(pp, "image"), "image is required: an OCI reference or a file path")
	case strings.ContainsFunc(props.Image, unicode.IsSpace):
		c.add(fieldPath(pp, "image"), "image %q contains whitespace", props.Image)
	}
	if comp.Type == TypeActor {
		if props.Contract != "" {
			c.add(fieldPath(pp, "contract"), "contract applies to capability components only")
		}
		if props.LinkName != "" {
			c.add(fieldPath(pp, "link_name"), "link_name applies to capability components only")
		}
		if len(props.Config) > 0 {
			c.add(fieldPath(pp, "config"), "config applies to capability components only")
		}
	}
	if comp.Type == TypeCapability {
		switch {
		case props.Contract == "":
			c.add(fieldPath(pp, "contract"), "a capability needs a contract, such as wasmcloud:httpserver")
		case strings.ContainsFunc(props.Contract, unicode.IsSpace):
			c.add(fieldPath(pp, "contract"), "contract %q contains whitespace", props.Contract)
		}
		if strings.ContainsFunc(props.LinkName, unicode.IsSpace) {
			c.add(fieldPath(pp, "link_name"), "link_name %q contains whitespace", props.LinkName)
		}
		if len(props.Config) > 0 && !validConfig(props.Config) {
			c.add(fieldPath(pp, "config"), "config must be a JSON object or a JSON string")
		}
	}
}

// validConfig reports whether raw is a JSON object or string (what Parse produces).
func validConfig(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return json.Valid(t) && len(t) > 0 && (t[0] == '{' || t[0] == '"')
}

func (c *checker) traits(m *Manifest, comp *Component, p string, capabilities []string) {
	scaler := -1
	links := map[string]int{}    // target → trait index
	linkKeys := map[string]int{} // contract + link name → trait index
	for j := range comp.Traits {
		t := &comp.Traits[j]
		tp := indexPath(fieldPath(p, "traits"), j)
		typ := fieldPath(tp, "type")
		pp := fieldPath(tp, "properties")
		switch {
		case t.Type == "":
			c.add(typ, "trait type is required (known: %s)", strings.Join(traitTypes, ", "))
		case isScaler(t.Type):
			if scaler >= 0 {
				c.add(typ, "more than one scaler trait: traits[%d] is already a %s", scaler, comp.Traits[scaler].Type)
			} else {
				scaler = j
			}
			if t.Scaler == nil {
				c.add(pp, "a %s needs properties: replicas, and spread if any", t.Type)
				continue
			}
			c.scaler(t.Type, t.Scaler, pp)
			if comp.Type == TypeCapability && (t.Scaler.MinInstances != nil || t.Scaler.MaxInstances != nil) {
				c.add(pp, "min_instances and max_instances apply to actor components only: a provider runs one process per host")
			}
		case t.Type == TraitLinkDef:
			if comp.Type == TypeCapability {
				c.add(typ, "linkdef applies to actor components only: a capability is the target of a link")
				continue
			}
			if t.Link == nil {
				c.add(pp, "a linkdef needs properties: target, and values if any")
				continue
			}
			c.link(m, t.Link, pp, capabilities, j, links, linkKeys)
		default:
			c.add(typ, "unknown trait type %q (known: %s)", t.Type, strings.Join(traitTypes, ", "))
		}
	}
}

func (c *checker) scaler(typ string, s *ScalerProperties, pp string) {
	if s.Replicas < 0 {
		c.add(fieldPath(pp, "replicas"), "replicas must not be negative (got %d)", s.Replicas)
	}
	if m := s.MinInstances; m != nil && (*m < 0 || *m > math.MaxUint16) {
		c.add(fieldPath(pp, "min_instances"), "min_instances must be 0 to %d (got %d)", math.MaxUint16, *m)
	}
	if m := s.MaxInstances; m != nil && (*m < 1 || *m > math.MaxUint16) {
		c.add(fieldPath(pp, "max_instances"), "max_instances must be 1 to %d (got %d)", math.MaxUint16, *m)
	}
	if s.MinInstances != nil && s.MaxInstances != nil && *s.MinInstances > *s.MaxInstances {
		c.add(fieldPath(pp, "min_instances"), "min_instances (%d) is above max_instances (%d)", *s.MinInstances, *s.MaxInstances)
	}
	sp := fieldPath(pp, "spread")
	names := map[string]int{}
	weighted, unweighted := -1, -1
	for k := range s.Spread {
		sd := &s.Spread[k]
		kp := indexPath(sp, k)
		if sd.Name == "" {
			c.add(fieldPath(kp, "name"), "spread name is required")
		} else if first, dup := names[sd.Name]; dup {
			c.add(fieldPath(kp, "name"), "duplicate spread name %q (also spread[%d])", sd.Name, first)
		} else {
			names[sd.Name] = k
		}
		for _, key := range sortedKeys(sd.Requirements) {
			if strings.TrimSpace(key) == "" {
				c.add(fieldPath(fieldPath(kp, "requirements"), key), "requirement key is empty: name the host label to match")
			}
		}
		if sd.Weight == nil {
			if unweighted < 0 {
				unweighted = k
			}
			continue
		}
		if weighted < 0 {
			weighted = k
		}
		switch w := *sd.Weight; {
		case w <= 0:
			c.add(fieldPath(kp, "weight"), "weight must be positive (got %d): weights are shares relative to each other", w)
		case w > MaxWeight:
			c.add(fieldPath(kp, "weight"), "weight %d is more than %d: weights are shares relative to each other, so smaller ones do", w, MaxWeight)
		}
	}
	if typ == TraitSpreadScaler && weighted >= 0 && unweighted >= 0 {
		c.add(fieldPath(indexPath(sp, unweighted), "weight"),
			"spread %q has no weight while spread %q has one: give every spread a weight, or none (then they share equally)",
			s.Spread[unweighted].Name, s.Spread[weighted].Name)
	}
}

func (c *checker) link(m *Manifest, l *LinkProperties, pp string, capabilities []string, j int, links, linkKeys map[string]int) {
	tp := fieldPath(pp, "target")
	for _, key := range sortedKeys(l.Values) {
		if strings.TrimSpace(key) == "" {
			c.add(fieldPath(fieldPath(pp, "values"), key), "value key is empty")
		}
	}
	if l.Target == "" {
		c.add(tp, "target is required: the name of a capability component of this app")
		return
	}
	if first, dup := links[l.Target]; dup {
		c.add(tp, "this actor already links to %q (traits[%d])", l.Target, first)
		return
	}
	links[l.Target] = j
	target, ok := m.Component(l.Target)
	if !ok || target.Type != TypeCapability {
		capList := "none"
		if len(capabilities) > 0 {
			capList = strings.Join(capabilities, ", ")
		}
		what := ""
		if ok {
			what = fmt.Sprintf(": it is of type %s", target.Type)
		}
		c.add(tp, "%q is not a capability component of this app (capabilities: %s)%s", l.Target, capList, what)
		return
	}
	key := target.Properties.Contract + "\x00" + target.LinkNameOrDefault()
	if first, dup := linkKeys[key]; dup {
		c.add(tp, "this actor already links to contract %s with link name %q (traits[%d]): one link per contract and link name",
			target.Properties.Contract, target.LinkNameOrDefault(), first)
		return
	}
	linkKeys[key] = j
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
