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

// fielder reads the value of one named field of an object and returns the field's bit
// (errNotFast for a key it does not know).
type fielder interface {
	field(r *reader, key []byte) (uint16, error)
}

// object reads a map of named fields into f; a key given twice is left to the generic decoder.
func (r *reader) object(f fielder) error {
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	var seen uint16
	for range n {
		k, _, err := r.raw()
		if err != nil {
			return err
		}
		bit, err := f.field(r, k)
		if err != nil || seen&bit != 0 {
			return errNotFast
		}
		seen |= bit
	}
	return nil
}

func (e *Entity) field(r *reader, key []byte) (bit uint16, err error) {
	switch string(key) {
	case "public_key":
		e.PublicKey, err = r.str()
		return 1, err
	case "link_name":
		e.LinkName, err = r.str()
		return 2, err
	case "contract_id":
		e.ContractID, err = r.str()
		return 4, err
	}
	return 0, errNotFast
}

// bytesField reads msg: bin, str or nil (nil stays nil, an empty value is empty, not nil).
func (r *reader) bytesField() ([]byte, error) {
	v, isNil, err := r.raw()
	if err == nil && !isNil && v == nil {
		v = []byte{}
	}
	return v, err
}

// optUint reads content_length: an integer, or nil for none.
func (r *reader) optUint() (*uint64, error) {
	v, isNil, err := r.uint()
	if err != nil || isNil {
		return nil, err
	}
	return &v, nil
}

// top reads one top-level object of the envelope and checks nothing follows it.
func top(data []byte, f fielder) error {
	if len(data) == 0 || data[0] == 0x80 || data[0] == 0xc0 {
		return errNotFast // empty: the generic decoder says what is missing
	}
	r := &reader{b: data}
	if err := r.object(f); err != nil {
		return errNotFast
	}
	if r.off != len(data) {
		return errNotFast
	}
	return nil
}

// decodeInvocationFast reads the common shape of an invocation; errNotFast for anything else.
func decodeInvocationFast(data []byte) (*Invocation, error) {
	inv := &Invocation{}
	if err := top(data, inv); err != nil {
		return nil, err
	}
	return inv, nil
}

func (inv *Invocation) field(r *reader, key []byte) (bit uint16, err error) {
	switch string(key) {
	case "origin":
		err = r.object(&inv.Origin)
		return 1, err
	case "target":
		err = r.object(&inv.Target)
		return 2, err
	case "operation":
		inv.Operation, err = r.str()
		return 4, err
	case "msg":
		inv.Msg, err = r.bytesField()
		return 8, err
	case "id":
		inv.ID, err = r.str()
		return 16, err
	case "encoded_claims":
		inv.EncodedClaims, err = r.str()
		return 32, err
	case "host_id":
		inv.HostID, err = r.str()
		return 64, err
	case "content_length":
		inv.ContentLength, err = r.optUint()
		return 128, err
	case "traceContext":
		inv.TraceContext, err = r.stringMap()
		return 256, err
	}
	return 0, errNotFast
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
	resp := &InvocationResponse{}
	if err := top(data, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (resp *InvocationResponse) field(r *reader, key []byte) (bit uint16, err error) {
	switch string(key) {
	case "msg":
		resp.Msg, err = r.bytesField()
		return 1, err
	case "invocation_id":
		resp.InvocationID, err = r.str()
		return 2, err
	case "error":
		resp.Error, err = r.str()
		return 4, err
	case "content_length":
		resp.ContentLength, err = r.optUint()
		return 8, err
	}
	return 0, errNotFast
}
