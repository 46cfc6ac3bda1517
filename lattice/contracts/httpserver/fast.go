package httpserver

import "github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"

// decodeRequestFast reads the one layout that Encode writes, and that rmp-serde writes for
// upstream's HttpRequest: a map of the five fields in declaration order, keys as fixstr,
// strings as str, the body as bin. For any other layout, or any error, it reports false and
// DecodeRequest reads the input with the general decoder, which also produces the error.
//
// It exists for actors: in wasm under a host that can interrupt guests, every taken branch
// costs a trip out of the compiled code (see package codec). Decoding GET / takes ~75 of
// those here, ~175 in the general decoder with its key lookups and type switches.
func decodeRequestFast(b []byte) (r HttpRequest, ok bool) {
	if len(b) == 0 || b[0] != 0x85 || !codec.HasAt(b, 1, "\xa6method") {
		return r, false
	}
	s, e, ok := codec.StrAt(b, 8)
	if !ok || !codec.HasAt(b, e, "\xa4path") {
		return r, false
	}
	r.Method = methodString(b[s:e])
	if s, e, ok = codec.StrAt(b, e+5); !ok || !codec.HasAt(b, e, "\xabqueryString") {
		return r, false
	}
	r.Path = string(b[s:e])
	if s, e, ok = codec.StrAt(b, e+12); !ok || !codec.HasAt(b, e, "\xa6header") {
		return r, false
	}
	r.QueryString = string(b[s:e])
	i := e + 7
	if i < len(b) && b[i] == 0x80 {
		r.Header = HeaderMap{}
		i++
	} else {
		d := codec.NewDecoder(b[i:])
		h, err := decodeHeader(&d)
		if err != nil {
			return r, false
		}
		r.Header = h
		i = len(b) - len(d.Rest())
	}
	if !codec.HasAt(b, i, "\xa4body") {
		return r, false
	}
	if s, e, ok = codec.BinAt(b, i+5); !ok {
		return r, false
	}
	r.Body = append([]byte{}, b[s:e]...)
	return r, true
}
