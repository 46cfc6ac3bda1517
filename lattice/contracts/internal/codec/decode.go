package codec

import (
	"errors"
	"math"
	"strconv"
)

// ErrShort is returned when the input ends inside a value.
var ErrShort = errors.New("msgpack: unexpected end of input")

// ErrRange is returned when an integer does not fit the field it is decoded into.
var ErrRange = errors.New("msgpack: integer out of range")

// ErrStructArray is returned when a struct sent as an array does not have one element per
// field.
var ErrStructArray = errors.New("msgpack: struct array has the wrong number of elements")

// typeError says which code was found where a kind of value was expected.
type typeError struct {
	code byte
	want string
}

func (e *typeError) Error() string {
	return "msgpack: invalid code 0x" + strconv.FormatUint(uint64(e.code), 16) + " decoding " + e.want
}

func invalid(code byte, want string) error { return &typeError{code: code, want: want} }

// wrapError prefixes an error with what was being done, like fmt.Errorf("%s: %w").
type wrapError struct {
	what string
	err  error
}

func (e *wrapError) Error() string { return e.what + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }

// Wrap returns err prefixed with what ("decode http request: …"), or nil for a nil err. It
// stands in for fmt.Errorf, which would add most of a megabyte to every actor module.
func Wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &wrapError{what: what, err: err}
}

// Decoder reads msgpack values from a byte slice, front to back. Its methods accept what
// vmihailenco/msgpack and rmp-serde accept for the same Go or Rust type: nil for any scalar
// (the zero value), str or bin for strings and bytes, any integer width for integers. Lengths
// are checked against the input before anything is allocated. Trailing bytes after the value
// a caller reads are left alone.
type Decoder struct {
	b []byte
}

// NewDecoder returns a decoder reading b. Decoded strings and byte slices never alias b.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// Rest returns the bytes not read yet.
func (d *Decoder) Rest() []byte { return d.b }

// peek returns the next code without consuming it.
func (d *Decoder) peek() (byte, error) {
	if len(d.b) == 0 {
		return 0, ErrShort
	}
	return d.b[0], nil
}

// length reads an n-byte big-endian length or value (n is 1, 2, 4 or 8) after a code.
func (d *Decoder) length(n int) (uint64, error) {
	if len(d.b) < n {
		return 0, ErrShort
	}
	p := d.b
	var v uint64
	switch n { // no loop: in wasm every loop iteration costs a trip through the runtime
	case 1:
		v = uint64(p[0])
	case 2:
		v = uint64(p[0])<<8 | uint64(p[1])
	case 4:
		v = uint64(p[0])<<24 | uint64(p[1])<<16 | uint64(p[2])<<8 | uint64(p[3])
	default:
		v = uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
			uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7])
	}
	d.b = p[n:]
	return v, nil
}

// take consumes n bytes.
func (d *Decoder) take(n uint64) ([]byte, error) {
	if uint64(len(d.b)) < n {
		return nil, ErrShort
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p, nil
}

// Nil consumes a nil and reports true if one is next; otherwise it consumes nothing.
func (d *Decoder) Nil() bool {
	if len(d.b) > 0 && d.b[0] == 0xc0 {
		d.b = d.b[1:]
		return true
	}
	return false
}

// rawBytes reads a str or bin and returns its bytes, aliasing the input; ok is false for nil.
func (d *Decoder) rawBytes(want string) (p []byte, ok bool, err error) {
	c, err := d.peek()
	if err != nil {
		return nil, false, err
	}
	d.b = d.b[1:]
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.length(1)
	case c == 0xda || c == 0xc5:
		n, err = d.length(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.length(4)
	case c == 0xc0:
		return nil, false, nil
	default:
		return nil, false, invalid(c, want)
	}
	if err != nil {
		return nil, false, err
	}
	p, err = d.take(n)
	return p, true, err
}

// RawString reads a str or bin (a map key, say) without copying: the result aliases the
// input. nil reads as empty.
func (d *Decoder) RawString() ([]byte, error) {
	// fixstr inline: most keys and many values are shorter than 32 bytes.
	if b := d.b; len(b) > 0 && b[0]-0xa0 < 0x20 {
		if n := int(b[0]-0xa0) + 1; n <= len(b) {
			d.b = b[n:]
			return b[1:n:n], nil
		}
	}
	p, _, err := d.rawBytes("string")
	return p, err
}

// String reads a str or bin as a string; nil reads as "".
func (d *Decoder) String() (string, error) {
	p, err := d.RawString()
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// Bytes reads a bin or str into a new slice: nil reads as nil, an empty value as an empty,
// non-nil slice.
func (d *Decoder) Bytes() ([]byte, error) {
	// bin8 inline: the usual body.
	if b := d.b; len(b) > 1 && b[0] == 0xc4 {
		if n := int(b[1]) + 2; n <= len(b) {
			d.b = b[n:]
			return append([]byte{}, b[2:n]...), nil
		}
	}
	p, ok, err := d.rawBytes("bytes")
	if err != nil || !ok {
		return nil, err
	}
	return append([]byte{}, p...), nil
}

// Bool reads true or false; nil reads as false.
func (d *Decoder) Bool() (bool, error) {
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2, 0xc0:
		d.b = d.b[1:]
		return false, nil
	case 0xc3:
		d.b = d.b[1:]
		return true, nil
	}
	return false, invalid(c, "bool")
}

// integer reads any integer encoding; neg reports a negative value (then v holds it as int64
// bits). nil reads as 0.
func (d *Decoder) integer() (v uint64, neg bool, err error) {
	c, err := d.peek()
	if err != nil {
		return 0, false, err
	}
	d.b = d.b[1:]
	switch {
	case c <= 0x7f:
		return uint64(c), false, nil
	case c >= 0xe0:
		return uint64(int64(int8(c))), true, nil
	}
	switch c {
	case 0xc0:
		return 0, false, nil
	case 0xcc:
		v, err = d.length(1)
	case 0xcd:
		v, err = d.length(2)
	case 0xce:
		v, err = d.length(4)
	case 0xcf:
		v, err = d.length(8)
	case 0xd0:
		v, err = d.length(1)
		v = uint64(int64(int8(v)))
	case 0xd1:
		v, err = d.length(2)
		v = uint64(int64(int16(v)))
	case 0xd2:
		v, err = d.length(4)
		v = uint64(int64(int32(v)))
	case 0xd3:
		v, err = d.length(8)
	default:
		return 0, false, invalid(c, "integer")
	}
	return v, c >= 0xd0 && int64(v) < 0, err
}

// Int reads an integer that must lie in [lo, hi].
func (d *Decoder) Int(lo, hi int64) (int64, error) {
	v, neg, err := d.integer()
	if err != nil {
		return 0, err
	}
	if !neg && v > math.MaxInt64 {
		return 0, ErrRange
	}
	if n := int64(v); n >= lo && n <= hi {
		return n, nil
	}
	return 0, ErrRange
}

// Uint reads a non-negative integer that must not exceed hi.
func (d *Decoder) Uint(hi uint64) (uint64, error) {
	v, neg, err := d.integer()
	if err != nil {
		return 0, err
	}
	if neg || v > hi {
		return 0, ErrRange
	}
	return v, nil
}

// collection reads a map or array header: n entries, or -1 for nil.
func (d *Decoder) collection(fix, fixMask, c16, c32 byte, want string) (int, error) {
	c, err := d.peek()
	if err != nil {
		return 0, err
	}
	d.b = d.b[1:]
	var n uint64
	switch {
	case c&^fixMask == fix:
		n = uint64(c & fixMask)
	case c == c16:
		n, err = d.length(2)
	case c == c32:
		n, err = d.length(4)
	case c == 0xc0:
		return -1, nil
	default:
		return 0, invalid(c, want)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.b)) { // every entry takes at least one byte
		return 0, ErrShort
	}
	return int(n), nil
}

// MapLen reads a map header: the number of entries, or -1 for nil.
func (d *Decoder) MapLen() (int, error) {
	// fixmap inline.
	if b := d.b; len(b) > 0 && b[0]&0xf0 == 0x80 {
		if n := int(b[0] & 0x0f); 2*n < len(b) {
			d.b = b[1:]
			return n, nil
		}
	}
	n, err := d.collection(0x80, 0x0f, 0xde, 0xdf, "map")
	if n > len(d.b)/2 {
		return 0, ErrShort
	}
	return n, err
}

// ArrayLen reads an array header: the number of elements, or -1 for nil.
func (d *Decoder) ArrayLen() (int, error) {
	return d.collection(0x90, 0x0f, 0xdc, 0xdd, "array")
}

// IsArray reports whether an array comes next.
func (d *Decoder) IsArray() bool {
	if len(d.b) == 0 {
		return false
	}
	c := d.b[0]
	return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd
}

// Struct reads the header of a struct, which rmp-serde writes as a map of named fields and
// also reads from an array with one element per field, in order. It returns the number of map
// entries to read with Key and a value each, or, with array set, fields elements to read in
// field order. A nil or empty array reads as n == 0: the zero value.
func (d *Decoder) Struct(fields int) (n int, array bool, err error) {
	if !d.IsArray() {
		n, err = d.MapLen()
		return max(n, 0), false, err
	}
	n, err = d.ArrayLen()
	if err != nil || n == 0 {
		return 0, false, err
	}
	if n != fields {
		return 0, false, ErrStructArray
	}
	return n, true, nil
}

// Strings reads an array of strings: nil reads as nil, an empty array as an empty, non-nil
// slice.
func (d *Decoder) Strings() ([]string, error) {
	n, err := d.ArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		if out[i], err = d.String(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Skip consumes one value of any type, however deeply nested, without recursion.
func (d *Decoder) Skip() error {
	for pending := uint64(1); pending > 0; pending-- {
		if pending > uint64(len(d.b)) { // each value takes at least one byte
			return ErrShort
		}
		c := d.b[0]
		d.b = d.b[1:]
		var skip uint64 // bytes of payload after the code and its length
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			pending += 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			pending += uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		default:
			switch c {
			case 0xc4, 0xd9:
				skip, err = d.length(1)
			case 0xc5, 0xda:
				skip, err = d.length(2)
			case 0xc6, 0xdb:
				skip, err = d.length(4)
			case 0xc7: // ext8: length, type, data
				skip, err = d.length(1)
				skip++
			case 0xc8:
				skip, err = d.length(2)
				skip++
			case 0xc9:
				skip, err = d.length(4)
				skip++
			case 0xcc, 0xd0:
				skip = 1
			case 0xcd, 0xd1:
				skip = 2
			case 0xca, 0xce, 0xd2:
				skip = 4
			case 0xcb, 0xcf, 0xd3:
				skip = 8
			case 0xd4: // fixext: type then 1, 2, 4, 8 or 16 bytes
				skip = 2
			case 0xd5:
				skip = 3
			case 0xd6:
				skip = 5
			case 0xd7:
				skip = 9
			case 0xd8:
				skip = 17
			case 0xdc:
				var n uint64
				n, err = d.length(2)
				pending += n
			case 0xdd:
				var n uint64
				n, err = d.length(4)
				pending += n
			case 0xde:
				var n uint64
				n, err = d.length(2)
				pending += 2 * n
			case 0xdf:
				var n uint64
				n, err = d.length(4)
				pending += 2 * n
			default: // 0xc1 is never used
				return invalid(c, "any value")
			}
		}
		if err != nil {
			return err
		}
		if _, err := d.take(skip); err != nil {
			return err
		}
	}
	return nil
}
