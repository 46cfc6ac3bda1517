package oam

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree into the manifest types. It notes the line of every field it
// reads (for the validation errors that follow) and every problem of shape (a list where a
// mapping belongs, an unknown field, a duplicate key) as a FieldError, and goes on reading so that
// one pass finds them all.
type decoder struct {
	lines    map[string]int
	problems []FieldError
	budget   int  // node visits left; aliases can make a small document expand enormously
	spent    bool // the budget ran out: what was read is incomplete
	merging  int  // depth of merge keys being read (a merge may alias its own mapping)
}

const (
	// nodeBudget and 4 per byte of input bound the node visits of one document, so that aliases
	// cannot make it expand enormously. A manifest has a few hundred nodes.
	nodeBudget = 100_000
	// maxConfigDepth bounds the nesting of a provider config (and cuts alias cycles).
	maxConfigDepth = 100
	// maxMergeDepth bounds merge keys within merged mappings (and cuts their cycles).
	maxMergeDepth = 10
)

// newDecoder reads a document of size bytes.
func newDecoder(size int) *decoder {
	return &decoder{lines: map[string]int{}, budget: nodeBudget + 4*size}
}

func (d *decoder) problem(path string, line int, reason string) {
	d.problems = append(d.problems, FieldError{Path: path, Line: line, Reason: reason})
}

// note records the line of a path (the first one seen wins).
func (d *decoder) note(path string, line int) {
	if _, ok := d.lines[path]; !ok && line > 0 {
		d.lines[path] = line
	}
}

// lineOf is the line of path or of its nearest parent that has one; 0 when none has.
func lineOf(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

func (d *decoder) line(path string) int { return lineOf(d.lines, path) }

// at is the line to report a problem of the value n at path on: its key's line when known (the
// field the user wrote), else the value's own.
func (d *decoder) at(path string, n *yaml.Node) int {
	if l, ok := d.lines[path]; ok {
		return l
	}
	return n.Line
}

// resolve follows aliases and document nodes; nil when n is nil or the budget is spent.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for hops := 0; n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode); hops++ {
		if hops > 8 {
			return nil
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 1 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	if n == nil || d.spent {
		return nil
	}
	if d.budget--; d.budget < 0 {
		d.spent = true
		d.problem(path, d.at(path, n), "the document expands to too many nodes through aliases")
		return nil
	}
	return n
}

// absent reports whether a value is missing or null.
func absent(n *yaml.Node) bool {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds, for "must be X, not Y" reasons.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + short(n.Value)
		case "!!int", "!!float":
			return "the number " + short(n.Value)
		case "!!str":
			return "the string " + strconv.Quote(short(n.Value))
		default:
			return "a " + n.ShortTag() + " value"
		}
	}
	return "an unexpected value"
}

// short cuts a value quoted in a reason to a readable length.
func short(s string) string {
	if len(s) <= 40 {
		return s
	}
	for i := 37; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return s[:37] + "..."
}

type pair struct {
	key  string
	line int
	val  *yaml.Node
}

// pairs lists a mapping's entries, merge keys (<<) applied: explicit keys win over merged ones,
// earlier merged mappings over later ones. A duplicate key is a problem (the first one is kept).
// ok is false when n is not a mapping (a problem unless it is absent).
func (d *decoder) pairs(n *yaml.Node, path string) (ps []pair, ok bool) {
	n = d.resolve(n, path)
	if n == nil || absent(n) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.problem(path, d.at(path, n), "must be a mapping, not "+describe(n))
		return nil, false
	}
	seen := map[string]int{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergePairs(v, path)...)
			continue
		}
		kr := d.resolve(k, path)
		if kr == nil {
			continue
		}
		if kr.Kind != yaml.ScalarNode {
			d.problem(path, k.Line, "keys must be strings, not "+describe(kr))
			continue
		}
		if !utf8.ValidString(kr.Value) {
			d.problem(path, k.Line, "a key is not valid UTF-8")
			continue
		}
		if first, dup := seen[kr.Value]; dup {
			d.problem(fieldPath(path, kr.Value), k.Line, "duplicate key "+strconv.Quote(kr.Value)+" (first at line "+strconv.Itoa(first)+")")
			continue
		}
		seen[kr.Value] = k.Line
		ps = append(ps, pair{kr.Value, k.Line, v})
	}
	for _, p := range merged {
		if _, dup := seen[p.key]; !dup {
			seen[p.key] = p.line
			ps = append(ps, p)
		}
	}
	return ps, true
}

// mergePairs reads the value of a merge key: a mapping or a list of mappings.
func (d *decoder) mergePairs(v *yaml.Node, path string) []pair {
	v = d.resolve(v, path)
	if v == nil {
		return nil
	}
	if d.merging >= maxMergeDepth {
		d.problem(path, v.Line, "merge keys (<<) are nested more than "+strconv.Itoa(maxMergeDepth)+" deep")
		return nil
	}
	d.merging++
	defer func() { d.merging-- }()
	var sources []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		sources = v.Content
	default:
		d.problem(path, v.Line, "a merge key (<<) takes a mapping or a list of mappings, not "+describe(v))
		return nil
	}
	var out []pair
	seen := map[string]bool{}
	for _, s := range sources {
		s = d.resolve(s, path)
		if s == nil {
			continue
		}
		if s.Kind != yaml.MappingNode {
			d.problem(path, s.Line, "a merge key (<<) takes a mapping or a list of mappings, not "+describe(s))
			continue
		}
		ps, _ := d.pairs(s, path)
		for _, p := range ps {
			if !seen[p.key] {
				seen[p.key] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// fields reads a mapping of known fields: each is noted with its line, an unknown one is a
// problem. Absent fields are missing from the result; an absent or null mapping gives nil.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	ps, ok := d.pairs(n, path)
	if !ok {
		return nil
	}
	out := make(map[string]*yaml.Node, len(ps))
	for _, p := range ps {
		fp := fieldPath(path, p.key)
		if !slices.Contains(known, p.key) {
			d.problem(fp, p.line, "unknown field "+strconv.Quote(p.key)+" (known: "+strings.Join(known, ", ")+")")
			continue
		}
		d.note(fp, p.line)
		out[p.key] = p.val
	}
	return out
}

// str reads a scalar as its text; null and absent are "".
func (d *decoder) str(n *yaml.Node, path string) string {
	n = d.resolve(n, path)
	if n == nil || absent(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.problem(path, d.at(path, n), "must be a string, not "+describe(n))
		return ""
	}
	if !utf8.ValidString(n.Value) {
		d.problem(path, d.at(path, n), "is not valid UTF-8")
		return ""
	}
	return n.Value
}

// integer reads a whole number; ok is false (with a problem) for anything else.
func (d *decoder) integer(n *yaml.Node, path string) (v int, ok bool) {
	n = d.resolve(n, path)
	if n == nil {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.problem(path, d.at(path, n), "must be a whole number, not "+describe(n))
		return 0, false
	}
	if err := n.Decode(&v); err != nil {
		d.problem(path, d.at(path, n), "the number "+n.Value+" is out of range")
		return 0, false
	}
	return v, true
}

// stringMap reads a mapping of strings (labels, requirements, link values). Scalars of other
// types (8080, true) are taken as written; null, lists and mappings are problems. Empty gives nil.
func (d *decoder) stringMap(n *yaml.Node, path string) map[string]string {
	ps, ok := d.pairs(n, path)
	if !ok || len(ps) == 0 {
		return nil
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		fp := fieldPath(path, p.key)
		d.note(fp, p.line)
		v := d.resolve(p.val, fp)
		switch {
		case v == nil:
		case absent(v):
			d.problem(fp, p.line, "is null: give a string (\"\" for an empty one)")
		case v.Kind != yaml.ScalarNode:
			d.problem(fp, p.line, "must be a string, not "+describe(v))
		case !utf8.ValidString(v.Value):
			d.problem(fp, p.line, "is not valid UTF-8")
		default:
			out[p.key] = v.Value
		}
	}
	return out
}

// sequence reads a list, noting the line of each item; absent or null gives nil.
func (d *decoder) sequence(n *yaml.Node, path string) []*yaml.Node {
	n = d.resolve(n, path)
	if n == nil || absent(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(path, d.at(path, n), "must be a list, not "+describe(n))
		return nil
	}
	for i, item := range n.Content {
		d.note(indexPath(path, i), item.Line)
	}
	return n.Content
}

// config reads a provider config: a mapping becomes compact JSON with sorted keys, a string is
// kept as a JSON string, null or absent is nil.
func (d *decoder) config(n *yaml.Node, path string) json.RawMessage {
	n = d.resolve(n, path)
	if n == nil || absent(n) {
		return nil
	}
	switch {
	case n.Kind == yaml.MappingNode:
		v, ok := d.value(n, path, 0)
		if !ok {
			return nil
		}
		raw, err := json.Marshal(v)
		if err != nil {
			d.problem(path, d.at(path, n), "cannot be written as JSON: "+err.Error())
			return nil
		}
		return raw
	case n.Kind == yaml.ScalarNode && !isTyped(n):
		s := d.str(n, path)
		raw, _ := json.Marshal(s)
		return raw
	default:
		d.problem(path, d.at(path, n), "must be a mapping or a string, not "+describe(n))
		return nil
	}
}

// isTyped reports whether a scalar is a number, a boolean or null rather than text.
func isTyped(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		return true
	}
	return false
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// value turns a node into what encoding/json writes: map[string]any, []any, string, bool,
// json.Number or nil. Numbers keep their text when it is JSON already.
func (d *decoder) value(n *yaml.Node, path string, depth int) (any, bool) {
	n = d.resolve(n, path)
	if n == nil {
		return nil, false
	}
	if depth > maxConfigDepth {
		d.problem(path, d.at(path, n), "is nested more than "+strconv.Itoa(maxConfigDepth)+" levels deep")
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		ps, _ := d.pairs(n, path)
		m := make(map[string]any, len(ps))
		ok := true
		for _, p := range ps {
			v, vok := d.value(p.val, fieldPath(path, p.key), depth+1)
			ok = ok && vok
			m[p.key] = v
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			v, vok := d.value(item, indexPath(path, i), depth+1)
			ok = ok && vok
			s = append(s, v)
		}
		return s, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				d.problem(path, d.at(path, n), "is not a boolean: "+n.Value)
				return nil, false
			}
			return b, true
		case "!!int", "!!float":
			if jsonNumber.MatchString(n.Value) {
				return json.Number(n.Value), true
			}
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.problem(path, d.at(path, n), "the number "+n.Value+" cannot be written as JSON")
				return nil, false
			}
			if n.ShortTag() == "!!int" {
				var i int64
				if err := n.Decode(&i); err == nil {
					return json.Number(strconv.FormatInt(i, 10)), true
				}
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
		default:
			if !utf8.ValidString(n.Value) {
				d.problem(path, d.at(path, n), "is not valid UTF-8")
				return nil, false
			}
			return n.Value, true
		}
	}
	d.problem(path, d.at(path, n), "holds an unexpected value")
	return nil, false
}
