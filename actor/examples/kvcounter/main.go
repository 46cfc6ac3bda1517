// Command kvcounter is an actor that counts requests per URL path in the linked key-value
// store, like the wasmCloud kvcounter example: key "counter:" + path with every "/" turned
// into ":" (so "/" is "counter::"), incremented by ?amount=N (default 1), answered as
// {"counter":N}, or 500 and {"error":"…"} when the store fails.
package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/actor/kv"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

func init() {
	actor.HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		amount := int32(1)
		q, _ := url.ParseQuery(r.QueryString) // keeps what parses, like form_urlencoded
		if n, err := strconv.ParseInt(q.Get("amount"), 10, 32); err == nil {
			amount = int32(n)
		}
		status, out := uint16(200), map[string]any{}
		if v, err := kv.Increment("counter:"+strings.ReplaceAll(r.Path, "/", ":"), amount); err != nil {
			status, out["error"] = 500, err.Error()
		} else {
			out["counter"] = v
		}
		body, err := json.Marshal(out)
		return httpserver.HttpResponse{StatusCode: status, Body: body}, err
	})
}

func main() {}
