// Command pinger is an actor that, for each HTTP request or Pinger.Ping, calls the actor with
// the call alias "wasmcloud/ponger" and answers {"value":"ping <its reply>"}.
package main

import (
	"encoding/json"

	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

func ping() ([]byte, error) {
	pong, err := actor.CallActor("wasmcloud/ponger", "Ponger.Ping", nil)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"value": "ping " + string(pong)})
}

func init() {
	actor.Handle("Pinger.Ping", func([]byte) ([]byte, error) { return ping() })
	actor.HandleHTTP(func(httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		body, err := ping()
		return httpserver.HttpResponse{StatusCode: 200, Body: body}, err
	})
}

func main() {}
