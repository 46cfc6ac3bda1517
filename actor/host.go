package actor

import (
	"errors"
	"strconv"
)

// ErrNoHost is returned by host calls in a build that is not GOOS=wasip1.
var ErrNoHost = errors.New("actor: no wasm host (not built for GOOS=wasip1)")

// DefaultLink is the link name used when none is given.
const DefaultLink = "default"

// hostABI is the host side as the guest sees it: the wasmbus imports in a wasip1 build,
// noHost elsewhere, a fake in tests.
type hostABI interface {
	// call returns the reply, or the host's error text as an error.
	call(binding, namespace, operation string, msg []byte) ([]byte, error)
	log(msg string)
}

// host is set by abi_wasip1.go or abi_other.go.
var host hostABI

// HostError is a host call the host refused or that failed on the other side.
type HostError struct {
	Binding, Namespace, Operation string
	Message                       string // the host's error text
	err                           error
}

func (e *HostError) Error() string {
	return "host call " + e.Namespace + " " + e.Operation + " (link " + strconv.Quote(e.Binding) + "): " + e.Message
}

// Unwrap returns the underlying error (ErrNoHost outside wasm).
func (e *HostError) Unwrap() error { return e.err }

// HostCall invokes operation on what binding and namespace resolve to: for a provider the link
// name and the contract id, for an actor (see CallActor) the link name and the actor's public
// key or call alias. It returns the reply payload, or a *HostError.
func HostCall(binding, namespace, operation string, msg []byte) ([]byte, error) {
	resp, err := host.call(binding, namespace, operation, msg)
	if err != nil {
		return nil, &HostError{Binding: binding, Namespace: namespace, Operation: operation, Message: err.Error(), err: err}
	}
	return resp, nil
}

// CallActor invokes operation on another actor, named by its public key (M…) or call alias.
func CallActor(target, operation string, msg []byte) ([]byte, error) {
	return HostCall(DefaultLink, target, operation, msg)
}

// Log writes msg to the host's log for this actor (__console_log).
func Log(msg string) {
	host.log(msg)
}
