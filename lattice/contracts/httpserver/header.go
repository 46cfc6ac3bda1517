package httpserver

import (
	"slices"

	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

// HeaderMap maps a header name to its values.
type HeaderMap map[string][]string

// appendHeader writes h with sorted keys (so encodings are reproducible) and every value list
// as an array, an absent list as an empty one. A nil map is an empty map.
func appendHeader(b []byte, h HeaderMap) []byte {
	b = codec.AppendMapHeader(b, len(h))
	if len(h) == 0 {
		return b
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = codec.AppendString(b, k)
		vs := h[k]
		b = codec.AppendArrayHeader(b, len(vs))
		for _, v := range vs {
			b = codec.AppendString(b, v)
		}
	}
	return b
}

// headerSize is the encoded size of h, and an error if a length does not fit msgpack.
func headerSize(h HeaderMap) (int, error) {
	if len(h) == 0 {
		return 1, nil
	}
	n := codec.HeaderSize(len(h))
	if err := codec.CheckLen(len(h)); err != nil {
		return 0, err
	}
	for k, vs := range h {
		n += codec.StrSize(len(k)) + codec.HeaderSize(len(vs))
		if err := codec.CheckLen(len(k) | len(vs)); err != nil {
			return 0, err
		}
		for _, v := range vs {
			if err := codec.CheckLen(len(v)); err != nil {
				return 0, err
			}
			n += codec.StrSize(len(v))
		}
	}
	return n, nil
}

// decodeHeader reads a map of string arrays: nil reads as a nil map, an empty map as an empty,
// non-nil one, as the reflection-based decoder did.
//
// It makes three allocations however many headers there are, instead of three per header:
// a first pass checks the shape, finds where the map ends and counts the values; then every
// name and value is sliced out of one string holding the map's bytes, and every value list
// out of one []string. (An allocation costs as much as a few dozen branches in wasm, and a
// browser sends ten or more headers.) A header string kept by the caller keeps that one
// string alive: the header section of one request.
func decodeHeader(d *codec.Decoder) (HeaderMap, error) {
	n, err := d.MapLen()
	if err != nil || n <= 0 {
		if n == 0 && err == nil {
			return HeaderMap{}, nil
		}
		return nil, err
	}
	in := d.Rest()
	scan := *d
	values := 0
	for range n {
		if _, err := scan.RawString(); err != nil {
			return nil, err
		}
		m, err := scan.ArrayLen()
		if err != nil {
			return nil, err
		}
		for range m {
			if _, err := scan.RawString(); err != nil {
				return nil, err
			}
		}
		values += max(m, 0)
	}
	region := in[:len(in)-len(scan.Rest())]
	*d = scan

	arena := string(region)
	vals := make([]string, values)
	h := make(HeaderMap, n)
	r := codec.NewDecoder(region)
	for range n {
		// Each string is read as p and taken from the arena: it ends where r's rest begins.
		p, _ := r.RawString()
		end := len(region) - len(r.Rest())
		k := arena[end-len(p) : end]
		m, _ := r.ArrayLen()
		if m < 0 {
			h[k] = nil
			continue
		}
		vs := vals[:m:m]
		vals = vals[m:]
		for i := range vs {
			p, _ := r.RawString()
			end := len(region) - len(r.Rest())
			vs[i] = arena[end-len(p) : end]
		}
		h[k] = vs
	}
	return h, nil
}
