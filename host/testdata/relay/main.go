// Command relay is a test actor for the host's tests: Relay.HostCall makes the host call described
// by its JSON message and returns the reply, so tests can drive every route of __host_call.
package main

import (
	"encoding/json"

	"github.com/trellis-lattice/trellis/actor"
)

type hostCall struct {
	Binding   string `json:"binding"`
	Namespace string `json:"namespace"`
	Operation string `json:"operation"`
	Msg       []byte `json:"msg"`
}

func init() {
	actor.Handle("Relay.HostCall", func(msg []byte) ([]byte, error) {
		var c hostCall
		if err := json.Unmarshal(msg, &c); err != nil {
			return nil, err
		}
		return actor.HostCall(c.Binding, c.Namespace, c.Operation, c.Msg)
	})
	actor.Handle("Relay.Echo", func(msg []byte) ([]byte, error) { return msg, nil })
}

func main() {}
