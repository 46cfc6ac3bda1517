// Command echo is an actor that answers each HTTP request with the request itself as JSON,
// byte-for-byte like the wasmCloud echo example: keys sorted, the body as an array of byte
// values, e.g. {"body":[],"method":"GET","path":"/","query_string":""}.
//
// It writes the JSON by hand rather than with encoding/json: the output is the same (see
// echo_test.go), the module is about a megabyte smaller and a call several times faster.
package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// out is reused from call to call: HandleHTTP encodes the response, copying the body, before
// the handler can run again.
var out []byte

func init() {
	actor.HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		out = appendEcho(out[:0], r)
		return httpserver.HttpResponse{StatusCode: 200, Body: out}, nil
	})
}

// appendEcho appends r as the JSON object {"body":[…],"method":…,"path":…,"query_string":…},
// exactly as encoding/json with SetEscapeHTML(false) writes it.
func appendEcho(b []byte, r httpserver.HttpRequest) []byte {
	b = append(b, `{"body":[`...)
	for i, c := range r.Body {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	b = appendString(append(b, `],"method":`...), r.Method)
	b = appendString(append(b, `,"path":`...), r.Path)
	b = appendString(append(b, `,"query_string":`...), r.QueryString)
	return append(b, '}')
}

// plain marks the ASCII bytes encoding/json writes as they are (without HTML escaping): all
// but the control characters, the quote and the backslash.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json does without HTML escaping:
// quote and backslash escaped, control characters as \b \f \n \r \t or \u00XX, invalid UTF-8
// as \ufffd, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

func main() {}
