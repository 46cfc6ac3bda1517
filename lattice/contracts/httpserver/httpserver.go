// Package httpserver holds the wire types of the wasmcloud:httpserver contract: the operation
// a provider invokes on an actor for every HTTP request, and the request and response it
// carries, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// It is a leaf: it imports only the standard library and the msgpack codec, and compiles for
// GOOS=wasip1 so actors and providers share it. It must not import any other Trellis package.
package httpserver

import "fmt"

// ContractID is the capability contract id.
const ContractID = "wasmcloud:httpserver"

// OpHandleRequest is the operation a provider invokes on a linked actor.
const OpHandleRequest = "HttpServer.HandleRequest"

// HttpRequest is the request an httpserver provider sends to an actor.
// Field order and names follow wasmcloud-interface-httpserver.
type HttpRequest struct {
	Method      string    `msgpack:"method"`
	Path        string    `msgpack:"path"`
	QueryString string    `msgpack:"queryString"`
	Header      HeaderMap `msgpack:"header"`
	Body        []byte    `msgpack:"body"`
}

// HttpResponse is the actor's answer. StatusCode 0 is sent as 0: set it.
type HttpResponse struct {
	StatusCode uint16    `msgpack:"statusCode"`
	Header     HeaderMap `msgpack:"header"`
	Body       []byte    `msgpack:"body"`
}

// Encode encodes r. A nil Header is sent as an empty map and a nil Body as empty bin,
// as upstream decoders require both.
func (r HttpRequest) Encode() ([]byte, error) {
	r.Header = r.Header.normalized()
	r.Body = nonNil(r.Body)
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode http request: %w", err)
	}
	return b, nil
}

// DecodeRequest decodes an HttpRequest.
func DecodeRequest(b []byte) (HttpRequest, error) {
	var r HttpRequest
	if err := unmarshal(b, &r); err != nil {
		return HttpRequest{}, fmt.Errorf("decode http request: %w", err)
	}
	return r, nil
}

// Encode encodes r, normalizing nil Header and Body like HttpRequest.Encode.
func (r HttpResponse) Encode() ([]byte, error) {
	r.Header = r.Header.normalized()
	r.Body = nonNil(r.Body)
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode http response: %w", err)
	}
	return b, nil
}

// DecodeResponse decodes an HttpResponse.
func DecodeResponse(b []byte) (HttpResponse, error) {
	var r HttpResponse
	if err := unmarshal(b, &r); err != nil {
		return HttpResponse{}, fmt.Errorf("decode http response: %w", err)
	}
	return r, nil
}
