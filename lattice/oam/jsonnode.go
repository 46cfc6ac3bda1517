package oam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// JSON is YAML, nearly: a YAML parser refuses some valid JSON (the escape \/, surrogate pairs
// such as \ud83d\ude00, keys longer than 1024 characters). So a document that is valid JSON is
// read by encoding/json into the same yaml.Node tree a YAML parser would build, lines included,
// and both forms then go through one decoder.

// looksJSON reports whether data is one valid JSON object or array.
func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(data)
}

// jsonNode reads valid JSON into a document node. Every scalar carries its tag (a string is
// !!str whatever its text), so the tree reads the same as the JSON and, given to a YAML encoder,
// is written with the quoting that keeps it so.
func jsonNode(data []byte) (*yaml.Node, error) {
	r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), data: data, line: 1}
	r.dec.UseNumber()
	root, err := r.next()
	if err != nil {
		return nil, err
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Line: 1, Column: 1, Content: []*yaml.Node{root}}, nil
}

type jsonReader struct {
	dec  *json.Decoder
	data []byte
	pos  int // bytes counted into line so far
	line int
}

// lineNow is the line of the token just read: JSON tokens do not span lines, so the line where
// it ends is the line where it starts.
func (r *jsonReader) lineNow() int {
	end := int(r.dec.InputOffset())
	if end > len(r.data) {
		end = len(r.data)
	}
	if end > r.pos {
		r.line += bytes.Count(r.data[r.pos:end], []byte{'\n'})
		r.pos = end
	}
	return r.line
}

func scalar(tag, value string, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value, Line: line, Column: 1}
}

// next reads the next value.
func (r *jsonReader) next() (*yaml.Node, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	return r.value(tok)
}

func (r *jsonReader) value(tok json.Token) (*yaml.Node, error) {
	line := r.lineNow()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line, Column: 1}
			for r.dec.More() {
				k, err := r.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := k.(string)
				if !ok {
					return nil, fmt.Errorf("line %d: a key must be a string", r.lineNow())
				}
				kn := scalar("!!str", key, r.lineNow())
				vn, err := r.next()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, kn, vn)
			}
			_, err := r.dec.Token() // }
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line, Column: 1}
			for r.dec.More() {
				vn, err := r.next()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, vn)
			}
			_, err := r.dec.Token() // ]
			return n, err
		}
	case string:
		return scalar("!!str", t, line), nil
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return scalar("!!float", string(t), line), nil
		}
		return scalar("!!int", string(t), line), nil
	case bool:
		return scalar("!!bool", strconv.FormatBool(t), line), nil
	case nil:
		return scalar("!!null", "null", line), nil
	}
	return nil, errors.New("unexpected JSON token")
}
