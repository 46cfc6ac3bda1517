package httpserver

import (
	"sort"

	"github.com/vmihailenco/msgpack/v5"
)

// HeaderMap maps a header name to its values.
type HeaderMap map[string][]string

// EncodeMsgpack writes the map with sorted keys (so encodings are reproducible) and every
// value list as an array, an absent list as an empty one.
func (h HeaderMap) EncodeMsgpack(enc *msgpack.Encoder) error {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := enc.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		vs := h[k]
		if err := enc.EncodeArrayLen(len(vs)); err != nil {
			return err
		}
		for _, v := range vs {
			if err := enc.EncodeString(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h HeaderMap) normalized() HeaderMap {
	if h == nil {
		return HeaderMap{}
	}
	return h
}

var _ msgpack.CustomEncoder = HeaderMap(nil)
