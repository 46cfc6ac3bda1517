package actor

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// HandlerFunc answers one operation: it gets the invocation payload and returns the reply
// payload, or an error that the host sees as the guest error.
type HandlerFunc func(msg []byte) ([]byte, error)

// handler is one entry of the dispatch table.
type handler struct {
	op string
	fn HandlerFunc
	// borrows is set for the SDK's own typed handlers, which decode msg into fresh values and
	// never keep it: they may read it straight from the buffer the next call reuses. Handlers
	// registered with Handle get a copy they may keep.
	borrows bool
}

// handlers maps an operation name ("HttpServer.HandleRequest") to its handler. It is filled
// from init functions and only read afterwards.
var handlers = map[string]handler{}

// last is the handler of the previous call. An actor mostly answers one operation, and
// finding it again this way costs a few word compares where a map lookup in wasm costs
// about a microsecond and a half (hashing and comparing the key loop over its bytes).
var last handler

// lookup finds the handler for op.
func lookup(op string) (handler, bool) {
	if last.fn != nil && equal(op, last.op) {
		return last, true
	}
	h, ok := handlers[op]
	if ok {
		last = h
	}
	return h, ok
}

// Handle registers fn for the operation op. Call it from init. Registering an operation twice
// or with a nil handler is a programming error and panics.
func Handle(op string, fn HandlerFunc) {
	register(op, handler{fn: fn})
}

func register(op string, h handler) {
	if op == "" || h.fn == nil {
		panic("actor: Handle needs an operation name and a handler")
	}
	if _, dup := handlers[op]; dup {
		panic("actor: operation " + strconv.Quote(op) + " registered twice")
	}
	h.op = op
	handlers[op] = h
	last = handler{}
}

// errNoHandler is the error for an operation nothing was registered for.
var errNoHandler = errors.New("no handler registered")

// opError is an error of the handler for op: "operation op: err".
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "operation " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// dispatch runs the handler for op. An unknown operation, a handler error and a handler panic
// all come back as errors naming the operation. op and msg may live in buffers that the next
// call reuses: neither is kept past the call unless copied.
func dispatch(op string, msg []byte) (resp []byte, err error) {
	h, ok := lookup(op)
	if !ok {
		if op == opHealthRequest {
			return healthyResponse, nil
		}
		return nil, &opError{op: strings.Clone(op), err: errNoHandler}
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, &opError{op: strings.Clone(op), err: errors.New("handler panicked: " + panicText(r))}
		}
	}()
	if !h.borrows {
		msg = bytes.Clone(msg)
	}
	resp, err = h.fn(msg)
	if err != nil {
		return nil, &opError{op: strings.Clone(op), err: err}
	}
	return resp, nil
}

// panicText formats a recovered value as fmt's %v would for the usual kinds of value, without
// importing fmt (which adds most of a megabyte to a module).
func panicText(r any) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int8, int16, int32, int64:
		return strconv.FormatInt(toInt64(v), 10)
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return strconv.FormatUint(toUint64(v), 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return "a panic value that is not a string, error, Stringer or number"
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	default:
		return v.(int64)
	}
}

func toUint64(v any) uint64 {
	switch x := v.(type) {
	case uint:
		return uint64(x)
	case uint8:
		return uint64(x)
	case uint16:
		return uint64(x)
	case uint32:
		return uint64(x)
	case uintptr:
		return uint64(x)
	default:
		return v.(uint64)
	}
}

// opHealthRequest is answered for every actor that does not handle it itself, as the
// upstream SDKs do.
const opHealthRequest = "Actor.HealthRequest"

// healthyResponse is HealthCheckResponse{healthy: true} with the optional message left out:
// {"healthy": true}.
var healthyResponse = []byte{0x81, 0xa7, 'h', 'e', 'a', 'l', 't', 'h', 'y', 0xc3}
