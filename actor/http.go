package actor

import (
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// response is where HandleHTTP encodes replies. The host copies a reply out before the call
// returns and an instance runs one call at a time, so the buffer is reused from call to call
// (up to keepBuffer bytes).
var response []byte

// keepBuffer is the largest buffer kept from one call for the next.
const keepBuffer = 64 << 10

// HandleHTTP registers fn for HttpServer.HandleRequest, the operation an httpserver provider
// invokes for each request. An error from fn becomes a guest error, which the provider turns
// into a 500; to choose the status, return a response instead.
func HandleHTTP(fn func(httpserver.HttpRequest) (httpserver.HttpResponse, error)) {
	register(httpserver.OpHandleRequest, handler{borrows: true, fn: func(msg []byte) ([]byte, error) {
		req, err := httpserver.DecodeRequest(msg)
		if err != nil {
			return nil, err
		}
		resp, err := fn(req)
		if err != nil {
			return nil, err
		}
		b, err := resp.AppendBinary(response[:0])
		if err != nil {
			return nil, &wrapError{what: req.Method + " " + req.Path, err: err}
		}
		if cap(b) <= keepBuffer {
			response = b
		}
		return b, nil
	}})
}

// wrapError prefixes err with what, like fmt.Errorf("%s: %w", what, err).
type wrapError struct {
	what string
	err  error
}

func (e *wrapError) Error() string { return e.what + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }
