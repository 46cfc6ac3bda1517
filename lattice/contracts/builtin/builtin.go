// Package builtin holds the wire types of the capabilities a host answers itself, without a
// provider or a link (PROTOCOL.md §3): wasmcloud:builtin:logging and
// wasmcloud:builtin:numbergen, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// It is a leaf: it imports only the standard library and the contracts' hand-written codec
// (lattice/contracts/internal/codec), and compiles for GOOS=wasip1 so actors and hosts share
// it. It must not import any other Trellis package.
package builtin

import (
	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

// Contract ids.
const (
	LoggingContractID   = "wasmcloud:builtin:logging"
	NumberGenContractID = "wasmcloud:builtin:numbergen"
)

// Operations, with their argument → result in the comments.
const (
	OpWriteLog      = "Logging.WriteLog"        // LogEntry → nothing
	OpGenerateGuid  = "NumberGen.GenerateGuid"  // nothing → string
	OpRandomInRange = "NumberGen.RandomInRange" // RangeLimit → uint32
	OpRandom32      = "NumberGen.Random32"      // nothing → uint32
)

// LogEntry is one line for the host's log; Level is "debug", "info", "warn" or "error".
type LogEntry struct {
	Level string `msgpack:"level"`
	Text  string `msgpack:"text"`
}

// RangeLimit asks for a number in [Min, Max], both inclusive.
type RangeLimit struct {
	Min uint32 `msgpack:"min"`
	Max uint32 `msgpack:"max"`
}

// Encode encodes e.
func (e LogEntry) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(e.Level) | len(e.Text)); err != nil {
		return nil, codec.Wrap("encode log entry", err)
	}
	b := make([]byte, 0, 1+6+codec.StrSize(len(e.Level))+5+codec.StrSize(len(e.Text)))
	b = append(b, 0x82)
	b = codec.AppendString(append(b, "\xa5level"...), e.Level)
	return codec.AppendString(append(b, "\xa4text"...), e.Text), nil
}

var logEntryFields = []string{"level", "text"}

// DecodeLogEntry decodes a LogEntry.
func DecodeLogEntry(b []byte) (LogEntry, error) {
	var e LogEntry
	d := codec.NewDecoder(b)
	err := codec.DecodeStruct(&d, logEntryFields, func(i int, d *codec.Decoder) (err error) {
		if i == 0 {
			e.Level, err = d.String()
		} else {
			e.Text, err = d.String()
		}
		return err
	})
	if err != nil {
		return LogEntry{}, codec.Wrap("decode log entry", err)
	}
	return e, nil
}

// Encode encodes r.
func (r RangeLimit) Encode() ([]byte, error) {
	b := make([]byte, 0, 1+4+4+2*codec.UintSize)
	b = append(b, 0x82)
	b = codec.AppendUint(append(b, "\xa3min"...), uint64(r.Min))
	return codec.AppendUint(append(b, "\xa3max"...), uint64(r.Max)), nil
}

var rangeLimitFields = []string{"min", "max"}

// DecodeRangeLimit decodes a RangeLimit.
func DecodeRangeLimit(b []byte) (RangeLimit, error) {
	var r RangeLimit
	d := codec.NewDecoder(b)
	err := codec.DecodeStruct(&d, rangeLimitFields, func(i int, d *codec.Decoder) (err error) {
		if i == 0 {
			r.Min, err = d.Uint32()
		} else {
			r.Max, err = d.Uint32()
		}
		return err
	})
	if err != nil {
		return RangeLimit{}, codec.Wrap("decode range limit", err)
	}
	return r, nil
}

// EncodeGuid encodes GenerateGuid's result: the bare string.
func EncodeGuid(guid string) ([]byte, error) {
	if err := codec.CheckLen(len(guid)); err != nil {
		return nil, codec.Wrap("encode guid", err)
	}
	return codec.AppendString(make([]byte, 0, codec.StrSize(len(guid))), guid), nil
}

// DecodeGuid decodes GenerateGuid's result.
func DecodeGuid(b []byte) (string, error) {
	d := codec.NewDecoder(b)
	s, err := d.String()
	if err != nil {
		return "", codec.Wrap("decode guid", err)
	}
	return s, nil
}

// EncodeNumber encodes RandomInRange's or Random32's result: the bare integer.
func EncodeNumber(n uint32) []byte {
	return codec.AppendUint(make([]byte, 0, 5), uint64(n))
}

// DecodeNumber decodes RandomInRange's or Random32's result.
func DecodeNumber(b []byte) (uint32, error) {
	d := codec.NewDecoder(b)
	n, err := d.Uint32()
	if err != nil {
		return 0, codec.Wrap("decode number", err)
	}
	return n, nil
}
