// Package httpserver holds the wire types of the wasmcloud:httpserver contract: the operation
// a provider invokes on an actor for every HTTP request, and the request and response it
// carries, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// The codec is written by hand (lattice/contracts/internal/codec) because actors decode a
// request and encode a response on every call, inside wasm, where a reflection-based codec
// was most of the cost of a call. The msgpack struct tags document the wire names.
//
// It is a leaf: it imports only the standard library and the contracts' codec, and compiles
// for GOOS=wasip1 so actors and providers share it. It must not import any other Trellis
// package.
package httpserver

import (
	"encoding"
	"slices"

	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

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
	return r.AppendBinary(nil)
}

// AppendBinary appends the encoding of r (see Encode) to b, growing b at most once.
func (r HttpRequest) AppendBinary(b []byte) ([]byte, error) {
	hs, err := headerSize(r.Header)
	if err == nil {
		err = codec.CheckLen(len(r.Method) | len(r.Path) | len(r.QueryString) | len(r.Body))
	}
	if err != nil {
		return nil, codec.Wrap("encode http request", err)
	}
	b = slices.Grow(b, 1+
		7+codec.StrSize(len(r.Method))+
		5+codec.StrSize(len(r.Path))+
		12+codec.StrSize(len(r.QueryString))+
		7+hs+
		5+codec.BinSize(len(r.Body)))
	b = append(b, 0x85)
	b = codec.AppendString(append(b, "\xa6method"...), r.Method)
	b = codec.AppendString(append(b, "\xa4path"...), r.Path)
	b = codec.AppendString(append(b, "\xabqueryString"...), r.QueryString)
	b = appendHeader(append(b, "\xa6header"...), r.Header)
	b = codec.AppendBin(append(b, "\xa4body"...), r.Body)
	return b, nil
}

// DecodeRequest decodes an HttpRequest. Unknown fields are skipped and missing ones stay
// zero, as serde(default) does upstream; the struct may also come as an array of its fields.
func DecodeRequest(b []byte) (HttpRequest, error) {
	if r, ok := decodeRequestFast(b); ok {
		return r, nil
	}
	return decodeRequest(b)
}

// decodeRequest reads any encoding of an HttpRequest that upstream's decoders accept.
func decodeRequest(b []byte) (HttpRequest, error) {
	var r HttpRequest
	d := codec.NewDecoder(b)
	n, array, err := d.Struct(5)
	for i := 0; i < n && err == nil; i++ {
		field := i
		if !array {
			var k []byte
			if k, err = d.RawString(); err != nil {
				break
			}
			field = requestField(k)
		}
		switch field {
		case 0:
			r.Method, err = method(&d)
		case 1:
			r.Path, err = d.String()
		case 2:
			r.QueryString, err = d.String()
		case 3:
			r.Header, err = decodeHeader(&d)
		case 4:
			r.Body, err = d.Bytes()
		default:
			err = d.Skip()
		}
	}
	if err != nil {
		return HttpRequest{}, codec.Wrap("decode http request", err)
	}
	return r, nil
}

// The lookups below avoid switch statements on strings and == on constants longer than 6
// bytes: both call into the runtime (cmpstring, memequal), whose loops are slow in wasm.

// requestField returns the index of the HttpRequest field named k, or -1.
func requestField(k []byte) int {
	switch len(k) {
	case 4:
		if string(k) == "path" {
			return 1
		}
		if string(k) == "body" {
			return 4
		}
	case 6:
		if string(k) == "method" {
			return 0
		}
		if string(k) == "header" {
			return 3
		}
	case 11:
		if codec.Equal(k, "queryString") {
			return 2
		}
	}
	return -1
}

// responseField returns the index of the HttpResponse field named k, or -1.
func responseField(k []byte) int {
	switch len(k) {
	case 4:
		if string(k) == "body" {
			return 2
		}
	case 6:
		if string(k) == "header" {
			return 1
		}
	case 10:
		if codec.Equal(k, "statusCode") {
			return 0
		}
	}
	return -1
}

// method reads the request method.
func method(d *codec.Decoder) (string, error) {
	p, err := d.RawString()
	if err != nil {
		return "", err
	}
	return methodString(p), nil
}

// methodString returns p as a string, sharing the string of the common methods instead of
// allocating one per request.
func methodString(p []byte) string {
	switch len(p) {
	case 3:
		if string(p) == "GET" {
			return "GET"
		}
		if string(p) == "PUT" {
			return "PUT"
		}
	case 4:
		if string(p) == "POST" {
			return "POST"
		}
		if string(p) == "HEAD" {
			return "HEAD"
		}
	case 5:
		if string(p) == "PATCH" {
			return "PATCH"
		}
	case 6:
		if string(p) == "DELETE" {
			return "DELETE"
		}
	case 7:
		if codec.Equal(p, "OPTIONS") {
			return "OPTIONS"
		}
	}
	return string(p)
}

// Encode encodes r, normalizing nil Header and Body like HttpRequest.Encode.
func (r HttpResponse) Encode() ([]byte, error) {
	return r.AppendBinary(nil)
}

// AppendBinary appends the encoding of r (see Encode) to b, growing b at most once.
func (r HttpResponse) AppendBinary(b []byte) ([]byte, error) {
	hs, err := headerSize(r.Header)
	if err == nil {
		err = codec.CheckLen(len(r.Body))
	}
	if err != nil {
		return nil, codec.Wrap("encode http response", err)
	}
	// Written as few appends as possible: in wasm each branch is costly (see package codec).
	b = slices.Grow(b, 1+11+3+7+hs+5+codec.BinSize(len(r.Body)))
	b = codec.AppendUint(append(b, "\x83\xaastatusCode"...), uint64(r.StatusCode))
	if len(r.Header) == 0 {
		b = append(b, "\xa6header\x80\xa4body"...)
	} else {
		b = append(appendHeader(append(b, "\xa6header"...), r.Header), "\xa4body"...)
	}
	return codec.AppendBin(b, r.Body), nil
}

// DecodeResponse decodes an HttpResponse, as leniently as DecodeRequest.
func DecodeResponse(b []byte) (HttpResponse, error) {
	var r HttpResponse
	d := codec.NewDecoder(b)
	n, array, err := d.Struct(3)
	for i := 0; i < n && err == nil; i++ {
		field := i
		if !array {
			var k []byte
			if k, err = d.RawString(); err != nil {
				break
			}
			field = responseField(k)
		}
		switch field {
		case 0:
			var v uint64
			v, err = d.Uint(0xffff)
			r.StatusCode = uint16(v)
		case 1:
			r.Header, err = decodeHeader(&d)
		case 2:
			r.Body, err = d.Bytes()
		default:
			err = d.Skip()
		}
	}
	if err != nil {
		return HttpResponse{}, codec.Wrap("decode http response", err)
	}
	return r, nil
}

var (
	_ encoding.BinaryAppender = HttpRequest{}
	_ encoding.BinaryAppender = HttpResponse{}
)
