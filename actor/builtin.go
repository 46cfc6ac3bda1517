package actor

import (
	"github.com/trellis-lattice/trellis/lattice/contracts/builtin"
)

// Builtin capabilities answered inside the host: no provider and no link, but the actor's
// claims must list the contract.
const (
	LoggingContractID   = builtin.LoggingContractID
	NumberGenContractID = builtin.NumberGenContractID
)

// Log levels for WriteLog.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// WriteLog writes text at level (LevelDebug … LevelError) through the logging builtin.
func WriteLog(level, text string) error {
	b, err := builtin.LogEntry{Level: level, Text: text}.Encode()
	if err != nil {
		return err
	}
	_, err = HostCall(DefaultLink, LoggingContractID, builtin.OpWriteLog, b)
	return err
}

// GenerateGuid returns a random (version 4) UUID from the numbergen builtin.
func GenerateGuid() (string, error) {
	resp, err := HostCall(DefaultLink, NumberGenContractID, builtin.OpGenerateGuid, nil)
	if err != nil {
		return "", err
	}
	s, err := builtin.DecodeGuid(resp)
	if err != nil {
		return "", &wrapError{what: builtin.OpGenerateGuid + " reply", err: err}
	}
	return s, nil
}

// RandomInRange returns a random number in [min, max], both inclusive.
func RandomInRange(min, max uint32) (uint32, error) {
	b, err := builtin.RangeLimit{Min: min, Max: max}.Encode()
	if err != nil {
		return 0, err
	}
	return number(builtin.OpRandomInRange, b)
}

// Random32 returns a random 32-bit number.
func Random32() (uint32, error) {
	return number(builtin.OpRandom32, nil)
}

func number(op string, arg []byte) (uint32, error) {
	resp, err := HostCall(DefaultLink, NumberGenContractID, op, arg)
	if err != nil {
		return 0, err
	}
	n, err := builtin.DecodeNumber(resp)
	if err != nil {
		return 0, &wrapError{what: op + " reply", err: err}
	}
	return n, nil
}
