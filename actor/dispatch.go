package actor

import "fmt"

// HandlerFunc answers one operation: it gets the invocation payload and returns the reply
// payload, or an error that the host sees as the guest error.
type HandlerFunc func(msg []byte) ([]byte, error)

// handlers maps an operation name ("HttpServer.HandleRequest") to its handler. It is filled
// from init functions and only read afterwards.
var handlers = map[string]HandlerFunc{}

// Handle registers fn for the operation op. Call it from init. Registering an operation twice
// or with a nil handler is a programming error and panics.
func Handle(op string, fn HandlerFunc) {
	if op == "" || fn == nil {
		panic("actor: Handle needs an operation name and a handler")
	}
	if _, dup := handlers[op]; dup {
		panic(fmt.Sprintf("actor: operation %q registered twice", op))
	}
	handlers[op] = fn
}

// dispatch runs the handler for op. An unknown operation, a handler error and a handler panic
// all come back as errors naming the operation.
func dispatch(op string, msg []byte) (resp []byte, err error) {
	fn, ok := handlers[op]
	if !ok {
		if op == opHealthRequest {
			return healthyResponse, nil
		}
		return nil, fmt.Errorf("operation %s: no handler registered", op)
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("operation %s: handler panicked: %v", op, r)
		}
	}()
	resp, err = fn(msg)
	if err != nil {
		return nil, fmt.Errorf("operation %s: %w", op, err)
	}
	return resp, nil
}

// opHealthRequest is answered for every actor that does not handle it itself, as the
// upstream SDKs do.
const opHealthRequest = "Actor.HealthRequest"

// healthyResponse is HealthCheckResponse{healthy: true} with the optional message left out:
// {"healthy": true}.
var healthyResponse = []byte{0x81, 0xa7, 'h', 'e', 'a', 'l', 't', 'h', 'y', 0xc3}
