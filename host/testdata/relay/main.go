// Command relay is a test actor for the host's tests: Relay.HostCall makes the host call described
// by its JSON message and returns the reply, so tests can drive every route of __host_call.
// Relay.Revision returns revision, which update tests set at link time
// (-ldflags "-X main.revision=N") to tell the builds of one actor apart; given a host call (as
// Relay.HostCall takes it), it makes that call first, holding its instance meanwhile.
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

var revision = "0"

func init() {
	actor.Handle("Relay.HostCall", relay)
	actor.Handle("Relay.Echo", func(msg []byte) ([]byte, error) { return msg, nil })
	actor.Handle("Relay.Revision", func(msg []byte) ([]byte, error) {
		if len(msg) > 0 {
			if _, err := relay(msg); err != nil {
				return nil, err
			}
		}
		return []byte(revision), nil
	})
}

// relay makes the host call described by msg.
func relay(msg []byte) ([]byte, error) {
	var c hostCall
	if err := json.Unmarshal(msg, &c); err != nil {
		return nil, err
	}
	return actor.HostCall(c.Binding, c.Namespace, c.Operation, c.Msg)
}

func main() {}
