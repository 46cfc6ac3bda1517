package actor

import (
	"fmt"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// HandleHTTP registers fn for HttpServer.HandleRequest, the operation an httpserver provider
// invokes for each request. An error from fn becomes a guest error, which the provider turns
// into a 500; to choose the status, return a response instead.
func HandleHTTP(fn func(httpserver.HttpRequest) (httpserver.HttpResponse, error)) {
	Handle(httpserver.OpHandleRequest, func(msg []byte) ([]byte, error) {
		req, err := httpserver.DecodeRequest(msg)
		if err != nil {
			return nil, err
		}
		resp, err := fn(req)
		if err != nil {
			return nil, err
		}
		b, err := resp.Encode()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
		}
		return b, nil
	})
}
