// Command echo is an actor that answers each HTTP request with the request itself as JSON,
// byte-for-byte like the wasmCloud echo example: keys sorted, the body as an array of byte
// values, e.g. {"body":[],"method":"GET","path":"/","query_string":""}.
package main

import (
	"bytes"
	"encoding/json"

	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// echo lists its fields in key order, as serde_json writes a json! map.
type echo struct {
	Body        []uint16 `json:"body"` // not []byte: encoding/json writes that as base64
	Method      string   `json:"method"`
	Path        string   `json:"path"`
	QueryString string   `json:"query_string"`
}

func init() {
	actor.HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		body := make([]uint16, len(r.Body))
		for i, c := range r.Body {
			body[i] = uint16(c)
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false) // serde_json leaves <, > and & alone
		if err := enc.Encode(echo{body, r.Method, r.Path, r.QueryString}); err != nil {
			return httpserver.HttpResponse{}, err
		}
		return httpserver.HttpResponse{StatusCode: 200, Body: bytes.TrimSuffix(out.Bytes(), []byte("\n"))}, nil
	})
}

func main() {}
