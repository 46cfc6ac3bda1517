package lattice

import (
	"encoding/json"
	"errors"
	"fmt"
)

// What Trellis does with a message that would pass NATS's max payload (the server's
// max_payload, 1 MiB by default) instead of failing to send it: an event is cut (CutJSON), a
// get.links reply is paged (LinkQuery, LinkList.Next).

// CutMarker starts the text that replaces the end of a string cut to make a message fit.
const CutMarker = "…[trellis: cut "

// cutReserve is room kept for the marker and the count it carries.
const cutReserve = len(CutMarker) + 32

// CutJSON encodes v as JSON of at most max bytes. When the encoding is longer, the longest
// strings in it are cut, each keeping its start and ending in CutMarker and the number of bytes
// cut ("…[trellis: cut 1048576 bytes]"), until it fits; cut reports whether any was. What cannot
// be made to fit that way (numbers, keys, a structure over max on its own) is an error.
func CutJSON(v any, max int) (out []byte, cut bool, err error) {
	out, err = json.Marshal(v)
	if err != nil || len(out) <= max {
		return out, false, err
	}
	var tree any
	if err := json.Unmarshal(out, &tree); err != nil {
		return nil, false, err
	}
	for len(out) > max {
		s, set := longestString(&tree)
		if set == nil || len(s) <= 2*cutReserve {
			return nil, false, fmt.Errorf("%d bytes of JSON do not fit in %d bytes even with its strings cut", len(out), max)
		}
		// Cut what makes the whole fit, at most half of this string, so that several long strings
		// share the loss; the encoded length counts escapes, hence the loop.
		n := min(len(out)-max+cutReserve, len(s)/2)
		keep := len(s) - n
		for keep > 0 && s[keep]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			keep--
		}
		set(s[:keep] + fmt.Sprintf("%s%d bytes]", CutMarker, len(s)-keep))
		if out, err = json.Marshal(tree); err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

// longestString finds the longest string value in a decoded JSON tree and returns it with a
// function that replaces it there.
func longestString(tree *any) (string, func(string)) {
	var best string
	var set func(string)
	var walk func(v any, replace func(string))
	walk = func(v any, replace func(string)) {
		switch x := v.(type) {
		case string:
			if set == nil || len(x) > len(best) {
				best, set = x, replace
			}
		case map[string]any:
			for k, e := range x {
				walk(e, func(s string) { x[k] = s })
			}
		case []any:
			for i, e := range x {
				walk(e, func(s string) { x[i] = s })
			}
		}
	}
	walk(*tree, func(s string) { *tree = s })
	return best, set
}

// DefaultMaxInvocationBytes is the largest invocation payload (inline or chunked) that a Trellis
// host's actors and the provider SDK accept unless configured otherwise: 32 MiB.
const DefaultMaxInvocationBytes = 32 << 20

// ErrPayloadTooLarge is wrapped by the refusal of an invocation whose payload is over the limit
// of the side that received it.
var ErrPayloadTooLarge = errors.New("payload over the limit")

// PayloadSize is the size of an invocation's payload: its message, or the content length it
// declares when the payload is chunked (known before the chunk is read).
func PayloadSize(inv *Invocation) uint64 {
	size := uint64(len(inv.Msg))
	if inv.ContentLength != nil && *inv.ContentLength > size {
		size = *inv.ContentLength
	}
	return size
}

// CheckPayload refuses a payload of size bytes over limit bytes (limit <= 0:
// DefaultMaxInvocationBytes); what names the call and setting the knob that raises the limit.
func CheckPayload(what string, size uint64, limit int64, setting string) error {
	if limit <= 0 {
		limit = DefaultMaxInvocationBytes
	}
	if size > uint64(limit) {
		return fmt.Errorf("%s: payload of %d bytes: %w of %d bytes (%s)", what, size, ErrPayloadTooLarge, limit, setting)
	}
	return nil
}
