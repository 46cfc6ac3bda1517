package host

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"

	"github.com/trellis-lattice/trellis/lattice"
)

// Builtin capabilities answered inside the host (PROTOCOL.md §3). The actor still needs the
// capability in its claims, but no link.
const (
	BuiltinLogging   = "wasmcloud:builtin:logging"
	BuiltinNumberGen = "wasmcloud:builtin:numbergen"
)

type builtin func(h *Host, a *actor, op string, msg []byte) ([]byte, error)

var builtins = map[string]builtin{
	BuiltinLogging:   builtinLogging,
	BuiltinNumberGen: builtinNumberGen,
}

type logEntry struct {
	Level string `msgpack:"level"`
	Text  string `msgpack:"text"`
}

func builtinLogging(h *Host, a *actor, op string, msg []byte) ([]byte, error) {
	if op != "Logging.WriteLog" {
		return nil, fmt.Errorf("%s: unknown operation %s", BuiltinLogging, op)
	}
	var e logEntry
	if err := lattice.Unmarshal(msg, &e); err != nil {
		return nil, fmt.Errorf("%s %s: %w", BuiltinLogging, op, err)
	}
	ev := h.log.Info()
	switch e.Level {
	case "debug", "trace":
		ev = h.log.Debug()
	case "warn":
		ev = h.log.Warn()
	case "error":
		ev = h.log.Error()
	}
	ev.Str("actor", a.id).Msg(e.Text)
	return []byte{}, nil
}

type rangeLimit struct {
	Min uint32 `msgpack:"min"`
	Max uint32 `msgpack:"max"`
}

func builtinNumberGen(h *Host, a *actor, op string, msg []byte) ([]byte, error) {
	switch op {
	case "NumberGen.GenerateGuid":
		return lattice.Marshal(uuid.NewString())
	case "NumberGen.Random32":
		return lattice.Marshal(random32())
	case "NumberGen.RandomInRange":
		var r rangeLimit
		if err := lattice.Unmarshal(msg, &r); err != nil {
			return nil, fmt.Errorf("%s %s: %w", BuiltinNumberGen, op, err)
		}
		if r.Max < r.Min {
			return nil, fmt.Errorf("%s %s: max %d is below min %d", BuiltinNumberGen, op, r.Max, r.Min)
		}
		span := uint64(r.Max) - uint64(r.Min) + 1
		return lattice.Marshal(uint32(uint64(r.Min) + uint64(random32())%span))
	}
	return nil, fmt.Errorf("%s: unknown operation %s", BuiltinNumberGen, op)
}

func random32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
