package lattice

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
)

// The RPC envelope's msgpack, written and read without reflection. The bytes written are exactly
// those the generic codec (Marshal) writes for Invocation and InvocationResponse: maps of named
// fields in declaration order, strings as fixstr/str8/16/32, msg as bin, content_length as uint64,
// a nil slice as nil. Reading takes the shapes senders use (maps of named fields, strings as str
// or bin, integers of any width); any other shape goes to the generic decoder, so what is
// accepted and every error are the same as with Unmarshal.

// errNotFast marks input the envelope reader leaves to the generic decoder.
var errNotFast = errors.New("not the common envelope shape")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns a buffer to the pool unless it grew large (chunked payloads are bigger).
func putBuf(b *[]byte) {
	if cap(*b) > 64*1024 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 256:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, 0xc0)
	}
	n := len(v)
	switch {
	case n < 256:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xc5, byte(n>>8), byte(n))
	default:
		b = append(b, 0xc6)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, v...)
}

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	b = append(b, 0xdf)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendEntity(b []byte, e Entity) []byte {
	b = append(b, 0x83)
	b = appendStr(b, "public_key")
	b = appendStr(b, e.PublicKey)
	b = appendStr(b, "link_name")
	b = appendStr(b, e.LinkName)
	b = appendStr(b, "contract_id")
	return appendStr(b, e.ContractID)
}

// appendTo appends the invocation's msgpack to b.
func (inv *Invocation) appendTo(b []byte) []byte {
	n := 7
	if inv.ContentLength != nil {
		n++
	}
	if len(inv.TraceContext) > 0 {
		n++
	}
	b = append(b, 0x80|byte(n))
	b = appendStr(b, "origin")
	b = appendEntity(b, inv.Origin)
	b = appendStr(b, "target")
	b = appendEntity(b, inv.Target)
	b = appendStr(b, "operation")
	b = appendStr(b, inv.Operation)
	b = appendStr(b, "msg")
	b = appendBin(b, inv.Msg)
	b = appendStr(b, "id")
	b = appendStr(b, inv.ID)
	b = appendStr(b, "encoded_claims")
	b = appendStr(b, inv.EncodedClaims)
	b = appendStr(b, "host_id")
	b = appendStr(b, inv.HostID)
	if inv.ContentLength != nil {
		b = appendStr(b, "content_length")
		b = append(b, 0xcf)
		b = binary.BigEndian.AppendUint64(b, *inv.ContentLength)
	}
	if len(inv.TraceContext) > 0 {
		b = appendStr(b, "traceContext")
		b = appendMapLen(b, len(inv.TraceContext))
		keys := make([]string, 0, len(inv.TraceContext))
		for k := range inv.TraceContext {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendStr(b, k)
			b = appendStr(b, inv.TraceContext[k])
		}
	}
	return b
}

// appendTo appends the response's msgpack to b.
func (r *InvocationResponse) appendTo(b []byte) []byte {
	n := 2
	if r.Error != "" {
		n++
	}
	if r.ContentLength != nil {
		n++
	}
	b = append(b, 0x80|byte(n))
	b = appendStr(b, "msg")
	b = appendBin(b, r.Msg)
	b = appendStr(b, "invocation_id")
	b = appendStr(b, r.InvocationID)
	if r.Error != "" {
		b = appendStr(b, "error")
		b = appendStr(b, r.Error)
	}
	if r.ContentLength != nil {
		b = appendStr(b, "content_length")
		b = append(b, 0xcf)
		b = binary.BigEndian.AppendUint64(b, *r.ContentLength)
	}
	return b
}

// reader walks msgpack input for the envelope reader; every method fails with errNotFast on a
// shape it does not take, and on input that ends early.
type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errNotFast
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) n(size int) (uint64, error) {
	if size > len(r.b)-r.off {
		return 0, errNotFast
	}
	var v uint64
	for _, c := range r.b[r.off : r.off+size] {
		v = v<<8 | uint64(c)
	}
	r.off += size
	return v, nil
}

// raw reads a str, bin or nil and returns its bytes (aliasing the input); nil gives isNil.
func (r *reader) raw() (v []byte, isNil bool, err error) {
	c, err := r.byte()
	if err != nil {
		return nil, false, err
	}
	var size uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		size = uint64(c & 0x1f)
	case c == 0xc0:
		return nil, true, nil
	case c == 0xd9 || c == 0xc4:
		size, err = r.n(1)
	case c == 0xda || c == 0xc5:
		size, err = r.n(2)
	case c == 0xdb || c == 0xc6:
		size, err = r.n(4)
	default:
		return nil, false, errNotFast
	}
	if err != nil || size > uint64(len(r.b)-r.off) {
		return nil, false, errNotFast
	}
	v = r.b[r.off : r.off+int(size) : r.off+int(size)]
	r.off += int(size)
	return v, false, nil
}

func (r *reader) str() (string, error) {
	v, _, err := r.raw()
	return string(v), err
}

// mapLen reads a map header; nil reads as an empty map.
func (r *reader) mapLen() (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case c == 0xc0:
		return 0, nil
	case c == 0xde:
		n, err := r.n(2)
		return int(n), err
	case c == 0xdf:
		n, err := r.n(4)
		if err != nil || n > uint64(len(r.b)-r.off) {
			return 0, errNotFast
		}
		return int(n), nil
	}
	return 0, errNotFast
}

// uint reads a non-negative integer of any width, or nil (isNil).
func (r *reader) uint() (v uint64, isNil bool, err error) {
	c, err := r.byte()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), false, nil
	case c == 0xc0:
		return 0, true, nil
	case c == 0xcc:
		v, err = r.n(1)
	case c == 0xcd:
		v, err = r.n(2)
	case c == 0xce:
		v, err = r.n(4)
	case c == 0xcf:
		v, err = r.n(8)
	default:
		return 0, false, errNotFast
	}
	return v, false, err
}

func (r *reader) entity() (Entity, error) {
	var e Entity
	n, err := r.mapLen()
	if err != nil {
		return e, err
	}
	var seen uint8
	for range n {
		k, _, err := r.raw()
		if err != nil {
			return e, err
		}
		var bit uint8
		var dst *string
		switch string(k) {
		case "public_key":
			bit, dst = 1, &e.PublicKey
		case "link_name":
			bit, dst = 2, &e.LinkName
		case "contract_id":
			bit, dst = 4, &e.ContractID
		default:
			return e, errNotFast
		}
		if seen&bit != 0 {
			return e, errNotFast
		}
		seen |= bit
		if *dst, err = r.str(); err != nil {
			return e, err
		}
	}
	return e, nil
}

// decodeInvocationFast reads the common shape of an invocation; errNotFast for anything else.
func decodeInvocationFast(data []byte) (*Invocation, error) {
	r := &reader{b: data}
	n, err := r.mapLen()
	if err != nil || n == 0 {
		return nil, errNotFast
	}
	inv := &Invocation{}
	var seen uint16
	for range n {
		k, _, err := r.raw()
		if err != nil {
			return nil, err
		}
		var bit uint16
		switch string(k) {
		case "origin":
			bit = 1
			inv.Origin, err = r.entity()
		case "target":
			bit = 2
			inv.Target, err = r.entity()
		case "operation":
			bit = 4
			inv.Operation, err = r.str()
		case "msg":
			bit = 8
			var isNil bool
			inv.Msg, isNil, err = r.raw()
			if err == nil && !isNil && inv.Msg == nil {
				inv.Msg = []byte{}
			}
		case "id":
			bit = 16
			inv.ID, err = r.str()
		case "encoded_claims":
			bit = 32
			inv.EncodedClaims, err = r.str()
		case "host_id":
			bit = 64
			inv.HostID, err = r.str()
		case "content_length":
			bit = 128
			v, isNil, uerr := r.uint()
			if err = uerr; err == nil && !isNil {
				inv.ContentLength = &v
			}
		case "traceContext":
			bit = 256
			inv.TraceContext, err = r.stringMap()
		default:
			return nil, errNotFast
		}
		if err != nil || seen&bit != 0 {
			return nil, errNotFast
		}
		seen |= bit
	}
	if r.off != len(data) {
		return nil, errNotFast
	}
	return inv, nil
}

func (r *reader) stringMap() (map[string]string, error) {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return nil, nil
	}
	n, err := r.mapLen()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, min(n, 16))
	for range n {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		v, err := r.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, errNotFast
		}
		m[k] = v
	}
	return m, nil
}

// decodeResponseFast reads the common shape of an invocation response; errNotFast otherwise.
func decodeResponseFast(data []byte) (*InvocationResponse, error) {
	r := &reader{b: data}
	n, err := r.mapLen()
	if err != nil || n == 0 {
		return nil, errNotFast
	}
	resp := &InvocationResponse{}
	var seen uint8
	for range n {
		k, _, err := r.raw()
		if err != nil {
			return nil, err
		}
		var bit uint8
		switch string(k) {
		case "msg":
			bit = 1
			var isNil bool
			resp.Msg, isNil, err = r.raw()
			if err == nil && !isNil && resp.Msg == nil {
				resp.Msg = []byte{}
			}
		case "invocation_id":
			bit = 2
			resp.InvocationID, err = r.str()
		case "error":
			bit = 4
			resp.Error, err = r.str()
		case "content_length":
			bit = 8
			v, isNil, uerr := r.uint()
			if err = uerr; err == nil && !isNil {
				resp.ContentLength = &v
			}
		default:
			return nil, errNotFast
		}
		if err != nil || seen&bit != 0 {
			return nil, errNotFast
		}
		seen |= bit
	}
	if r.off != len(data) {
		return nil, errNotFast
	}
	return resp, nil
}
