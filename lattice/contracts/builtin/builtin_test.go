package builtin_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/builtin"
)

func TestEncoding(t *testing.T) {
	b, err := builtin.LogEntry{Level: "info", Text: "hello"}.Encode()
	require.NoError(t, err)
	require.Equal(t, "82a56c6576656ca4696e666fa474657874a568656c6c6f", hex.EncodeToString(b))

	b, err = builtin.RangeLimit{Min: 1, Max: 500}.Encode()
	require.NoError(t, err)
	require.Equal(t, "82a36d696e01a36d6178cd01f4", hex.EncodeToString(b))

	b, err = builtin.EncodeGuid("g")
	require.NoError(t, err)
	require.Equal(t, "a167", hex.EncodeToString(b))
	require.Equal(t, "ce80000000", hex.EncodeToString(builtin.EncodeNumber(1<<31)))
}

func TestEncodeMatchesReflection(t *testing.T) {
	for _, in := range []interface{ Encode() ([]byte, error) }{
		builtin.LogEntry{}, builtin.LogEntry{Level: "error", Text: strings.Repeat("t", 70000)},
		builtin.RangeLimit{}, builtin.RangeLimit{Min: 200, Max: 1<<32 - 1},
	} {
		got, err := in.Encode()
		require.NoError(t, err)
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true)
		require.NoError(t, enc.Encode(in))
		require.Equal(t, buf.Bytes(), got, "%#v", in)
	}
}

func TestRoundTrips(t *testing.T) {
	e := builtin.LogEntry{Level: "warn", Text: "x"}
	b, err := e.Encode()
	require.NoError(t, err)
	got, err := builtin.DecodeLogEntry(b)
	require.NoError(t, err)
	require.Equal(t, e, got)

	r := builtin.RangeLimit{Min: 3, Max: 70000}
	b, err = r.Encode()
	require.NoError(t, err)
	gotR, err := builtin.DecodeRangeLimit(b)
	require.NoError(t, err)
	require.Equal(t, r, gotR)

	b, err = builtin.EncodeGuid("123e4567-e89b-12d3-a456-426655440000")
	require.NoError(t, err)
	guid, err := builtin.DecodeGuid(b)
	require.NoError(t, err)
	require.Equal(t, "123e4567-e89b-12d3-a456-426655440000", guid)

	n, err := builtin.DecodeNumber(builtin.EncodeNumber(42))
	require.NoError(t, err)
	require.Equal(t, uint32(42), n)
}

func TestDecodeErrors(t *testing.T) {
	_, err := builtin.DecodeNumber([]byte{0xff})
	require.EqualError(t, err, "decode number: msgpack: integer out of range")
	_, err = builtin.DecodeGuid([]byte{0xc3})
	require.EqualError(t, err, "decode guid: msgpack: invalid code 0xc3 decoding string")
	_, err = builtin.DecodeRangeLimit([]byte{0x81, 0xa3, 'm', 'i', 'n', 0xcf, 1, 0, 0, 0, 0, 0, 0, 0})
	require.ErrorContains(t, err, "decode range limit")
	_, err = builtin.DecodeLogEntry(nil)
	require.EqualError(t, err, "decode log entry: msgpack: unexpected end of input")
}

func FuzzDecodeLogEntry(f *testing.F) {
	b, _ := builtin.LogEntry{Level: "info", Text: "t"}.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := builtin.DecodeLogEntry(b)
		var want builtin.LogEntry
		if wantErr := msgpack.Unmarshal(b, &want); wantErr != nil {
			require.Error(t, err, "the reflection decoder failed with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, e)
	})
}
