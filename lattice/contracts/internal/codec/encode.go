// Package codec is the msgpack the contract packages speak, written by hand: append-style
// encoders that write exactly what rmp-serde's to_vec_named writes (and vmihailenco/msgpack
// with compact integers, which the contracts used before; their tests hold them to it), and a
// decoder over a byte slice that accepts what those decoders accept. It knows nothing of the
// contracts' types.
//
// Why by hand: actors run this code inside wasm. There, Go's compiler turns every taken
// branch into a jump back to the top of the function's dispatch loop, and wazero, when the host
// can interrupt guests (WithCloseOnContextDone), leaves the compiled code at every loop
// header to check for cancellation: each taken branch costs tens of nanoseconds, an
// allocation a few dozen branches. A reflection-based decode of an HttpRequest took ~1350 of
// those exits per echo call; this codec and the SDK around it, ~140. Dropping the library
// (and fmt) also takes 1.9 MB off every Go actor module. So the code here avoids allocations,
// runtime string comparisons (memequal loops byte by byte; see Equal) and switches on
// strings, and has straight-line fast paths for the common encodings.
//
// It imports only the standard library (no fmt, no encoding/binary, which pulls in reflect)
// and must not import any Trellis package.
package codec

import (
	"errors"
	"math"
)

// ErrTooLong is returned when a string, binary or collection is longer than msgpack allows
// (2^32-1 bytes or entries).
var ErrTooLong = errors.New("msgpack: length exceeds 2^32-1")

// AppendMapHeader appends the header of a map with n entries.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	default:
		return append32(append(b, 0xdf), uint32(n))
	}
}

// AppendArrayHeader appends the header of an array with n elements.
func AppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	default:
		return append32(append(b, 0xdd), uint32(n))
	}
}

// AppendString appends s as str in its shortest form (fixstr, str8, str16, str32).
func AppendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin appends p as bin in its shortest form (bin8, bin16, bin32); nil is empty bin.
func AppendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xc5, byte(n>>8), byte(n))
	default:
		b = append32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return append(b, 0xc0) }

// AppendUint appends v in its shortest form: positive fixint, uint8, uint16, uint32, uint64.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append32(append(b, 0xce), uint32(v))
	default:
		return append64(append(b, 0xcf), v)
	}
}

// AppendInt appends v in its shortest form, as rmp's write_sint does: a non-negative value as
// AppendUint writes it, a negative one as negative fixint, int8, int16, int32 or int64.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(b, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append32(append(b, 0xd2), uint32(v))
	default:
		return append64(append(b, 0xd3), uint64(v))
	}
}

// StrSize is the encoded size of a str of n bytes.
func StrSize(n int) int {
	switch {
	case n < 32:
		return 1 + n
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	default:
		return 5 + n
	}
}

// BinSize is the encoded size of a bin of n bytes.
func BinSize(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	default:
		return 5 + n
	}
}

// HeaderSize is the encoded size of a map or array header for n entries.
func HeaderSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

// UintSize is the largest encoded size of an unsigned or signed integer: 9 bytes.
const UintSize = 9

// CheckLen returns ErrTooLong when n does not fit a msgpack length. To check several lengths
// at once, pass them OR'ed together: the result exceeds 2^32-1 exactly when one of them does.
func CheckLen(n int) error {
	if uint64(n) > math.MaxUint32 {
		return ErrTooLong
	}
	return nil
}

// append32 appends v big-endian (encoding/binary would pull reflect into guest modules).
func append32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// append64 appends v big-endian.
func append64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
