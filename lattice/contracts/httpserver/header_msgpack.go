//go:build !wasip1

package httpserver

import (
	"github.com/vmihailenco/msgpack/v5"
)

// EncodeMsgpack lets vmihailenco/msgpack encode a HeaderMap as Encode does: keys sorted, every
// value list an array. It is not built for wasip1: importing that library would add 1.6 MB to
// every actor module, and actors encode with Encode.
func (h HeaderMap) EncodeMsgpack(enc *msgpack.Encoder) error {
	b := appendHeader(nil, h)
	_, err := enc.Writer().Write(b)
	return err
}

var _ msgpack.CustomEncoder = HeaderMap(nil)
