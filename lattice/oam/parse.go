package oam

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse reads one manifest, YAML or JSON, and validates it. Every problem found (syntax, shape,
// meaning) comes back in one *ValidationError whose field errors carry the line they are on; a
// manifest is returned only when there is none.
//
// Parse is as lenient as wadm 0.4 to 0.7 where that is harmless (numbers and booleans where a
// link value or a label is a string are taken as written, YAML anchors and merge keys work, older
// "replicas" and newer "instances" are both read) and stricter where wadm let a mistake through
// silently: an unknown field, a duplicate key or a second document is refused.
func Parse(data []byte) (*Manifest, error) {
	root, err := document(data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(len(data))
	m := d.manifest(root)
	if err := d.finish(m); err != nil {
		return nil, err
	}
	return m, nil
}

// document reads the single document of data.
func document(data []byte) (*yaml.Node, error) {
	if looksJSON(data) {
		n, err := jsonNode(data)
		if err != nil {
			return nil, syntaxError(err)
		}
		return n, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Errors: []FieldError{{Reason: "the manifest is empty"}}}
		}
		return nil, syntaxError(err)
	}
	if emptyDocument(&doc) {
		return nil, &ValidationError{Errors: []FieldError{{Line: doc.Line, Reason: "the manifest is empty"}}}
	}
	for {
		var more yaml.Node
		err := dec.Decode(&more)
		if errors.Is(err, io.EOF) {
			return &doc, nil
		}
		if err != nil {
			return nil, syntaxError(err)
		}
		if !emptyDocument(&more) {
			return nil, &ValidationError{Errors: []FieldError{{Line: more.Line,
				Reason: "a second YAML document starts here: a manifest is one document (split the file, one app per manifest)"}}}
		}
	}
}

// emptyDocument reports whether a document holds nothing (only comments, or a bare "---").
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	c := doc.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null" && c.Value == "" && c.Anchor == ""
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// syntaxError turns a parser error ("yaml: line 7: mapping values are not allowed in this
// context") into a field error for the whole document.
func syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := FieldError{Reason: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Reason = msg[len(m[0]):]
	}
	return &ValidationError{Errors: []FieldError{fe}}
}

// finish validates what was read and returns every problem, in document order. A validation
// problem at or around a field that could not be read is left out: it would only repeat it.
func (d *decoder) finish(m *Manifest) error {
	errs := d.problems
	if !d.spent {
		for _, fe := range m.check(d.lines) {
			if !d.repeats(fe.Path) {
				errs = append(errs, fe)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return &ValidationError{Errors: errs}
}

func (d *decoder) repeats(path string) bool {
	for _, p := range d.problems {
		if path != "" && p.Path != "" && (under(path, p.Path) || under(p.Path, path)) {
			return true
		}
	}
	return false
}

// manifest reads the document's root.
func (d *decoder) manifest(root *yaml.Node) *Manifest {
	m := &Manifest{}
	if r := d.resolve(root, ""); r != nil {
		d.note("", r.Line)
		if r.Kind != yaml.MappingNode && !absent(r) {
			d.problem("", r.Line, "a manifest is a mapping (apiVersion, kind, metadata, spec), not "+describe(r))
			return m
		}
	}
	f := d.fields(root, "", "apiVersion", "kind", "metadata", "spec")
	m.APIVersion = d.str(f["apiVersion"], "apiVersion")
	m.Kind = d.str(f["kind"], "kind")

	md := d.fields(f["metadata"], "metadata", "name", "annotations", "labels")
	m.Metadata.Name = d.str(md["name"], "metadata.name")
	m.Metadata.Annotations = d.stringMap(md["annotations"], "metadata.annotations")
	m.Metadata.Labels = d.stringMap(md["labels"], "metadata.labels")

	spec := d.fields(f["spec"], "spec", "components")
	for i, item := range d.sequence(spec["components"], "spec.components") {
		m.Spec.Components = append(m.Spec.Components, d.component(item, indexPath("spec.components", i)))
	}
	return m
}

func (d *decoder) component(n *yaml.Node, path string) Component {
	f := d.fields(n, path, "name", "type", "properties", "traits")
	c := Component{
		Name: d.str(f["name"], fieldPath(path, "name")),
		Type: d.str(f["type"], fieldPath(path, "type")),
	}
	pp := fieldPath(path, "properties")
	props := d.fields(f["properties"], pp, "image", "contract", "link_name", "config")
	c.Properties = Properties{
		Image:    d.str(props["image"], fieldPath(pp, "image")),
		Contract: d.str(props["contract"], fieldPath(pp, "contract")),
		LinkName: d.str(props["link_name"], fieldPath(pp, "link_name")),
		Config:   d.config(props["config"], fieldPath(pp, "config")),
	}
	tp := fieldPath(path, "traits")
	for i, item := range d.sequence(f["traits"], tp) {
		c.Traits = append(c.Traits, d.trait(item, indexPath(tp, i)))
	}
	return c
}
