// Package httpservertest holds the cases of the HTTP-server listen-address rule
// (httpserver.ListenAddress, httpserver.ServiceReachable) that every reader of link values runs:
// the contract's own test, the httpserver provider's settings and the Kubernetes applier's
// Services. One table, so the sides cannot drift apart. It imports only the standard library and
// builds for wasip1 like the contract.
package httpservertest

import (
	_ "embed"
	"encoding/json"
)

// ListenCase is one set of link values and what the rule makes of it: either Error (a substring
// of the error, which wraps httpserver.ErrLinkValues), or Address (the listener's IP:PORT) and
// Reachable (whether a Kubernetes Service can reach it, so whether the applier makes one; the
// Service's port is then Address's port).
type ListenCase struct {
	Name      string            `json:"name"`
	Values    map[string]string `json:"values"`
	Address   string            `json:"address,omitempty"`
	Reachable bool              `json:"reachable,omitempty"`
	Error     string            `json:"error,omitempty"`
}

//go:embed listen_address.json
var listenCases []byte

// ListenCases returns the cases, in the order of listen_address.json.
func ListenCases() []ListenCase {
	var cases []ListenCase
	if err := json.Unmarshal(listenCases, &cases); err != nil {
		panic("httpservertest: listen_address.json: " + err.Error())
	}
	return cases
}
