package actor

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Builtin capabilities answered inside the host: no provider and no link, but the actor's
// claims must list the contract.
const (
	LoggingContractID   = "wasmcloud:builtin:logging"
	NumberGenContractID = "wasmcloud:builtin:numbergen"
)

// Log levels for WriteLog.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

type logEntry struct {
	Level string `msgpack:"level"`
	Text  string `msgpack:"text"`
}

type rangeLimit struct {
	Min uint32 `msgpack:"min"`
	Max uint32 `msgpack:"max"`
}

// WriteLog writes text at level (LevelDebug … LevelError) through the logging builtin.
func WriteLog(level, text string) error {
	b, err := marshal(logEntry{Level: level, Text: text})
	if err != nil {
		return err
	}
	_, err = HostCall(DefaultLink, LoggingContractID, "Logging.WriteLog", b)
	return err
}

// GenerateGuid returns a random (version 4) UUID from the numbergen builtin.
func GenerateGuid() (string, error) {
	var s string
	err := numberGen("NumberGen.GenerateGuid", nil, &s)
	return s, err
}

// RandomInRange returns a random number in [min, max], both inclusive.
func RandomInRange(min, max uint32) (uint32, error) {
	b, err := marshal(rangeLimit{Min: min, Max: max})
	if err != nil {
		return 0, err
	}
	var n uint32
	err = numberGen("NumberGen.RandomInRange", b, &n)
	return n, err
}

// Random32 returns a random 32-bit number.
func Random32() (uint32, error) {
	var n uint32
	err := numberGen("NumberGen.Random32", nil, &n)
	return n, err
}

func numberGen(op string, arg []byte, out any) error {
	resp, err := HostCall(DefaultLink, NumberGenContractID, op, arg)
	if err != nil {
		return err
	}
	if err := msgpack.Unmarshal(resp, out); err != nil {
		return fmt.Errorf("decode %s reply: %w", op, err)
	}
	return nil
}

// marshal encodes v as wasmbus-rpc does: named fields, smallest integers.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return buf.Bytes(), nil
}
