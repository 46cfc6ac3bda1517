package keyvalue_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
)

// The codec used to be vmihailenco/msgpack with compact integers; these tests hold the
// hand-written one to the same bytes and the same decoded values. The one intended difference:
// an integer out of range for its field is now an error, where the old decoder truncated it.

func compact(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

func TestEncodeMatchesReflection(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, in := range []encoder{
		keyvalue.GetResponse{}, keyvalue.GetResponse{Value: long, Exists: true},
		keyvalue.SetRequest{Key: long, Value: long, Expires: 1 << 31},
		keyvalue.IncrementRequest{Key: "k", Value: -1 << 31}, keyvalue.IncrementRequest{Key: "k", Value: 1<<31 - 1},
		keyvalue.ListAddRequest{ListName: long, Value: "v"}, keyvalue.ListDelRequest{},
		keyvalue.ListRangeRequest{ListName: "l", Start: -33, Stop: 70000},
		keyvalue.SetAddRequest{SetName: "s", Value: long}, keyvalue.SetDelRequest{},
	} {
		got, err := in.Encode()
		require.NoError(t, err)
		require.Equal(t, compact(t, in), got, "%#v", in)
	}
	for _, v := range []any{"", long, true, false, int32(-129), int32(1 << 30), uint32(1 << 31), []string{"a", long}, []string{},
		7, int64(-1 << 40), uint64(1 << 40), int8(-5), int16(300), uint8(200), uint16(60000), uint(3), []byte("bin")} {
		got, err := keyvalue.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, compact(t, v), got, "%T %v", v, v)
	}
	_, err := keyvalue.Marshal(1.5)
	require.ErrorContains(t, err, "encode keyvalue: unsupported type")
}

func TestUnmarshalMatchesReflection(t *testing.T) {
	inputs := [][]byte{
		{0xa1, 'x'}, {0xc4, 1, 'x'}, {0xc0}, {0xc3}, {0x05}, {0xff}, {0xd0, 0x80}, {0xcd, 0x01, 0x00},
		{0x92, 0xa1, 'a', 0xa1, 'b'}, {0x90}, {0x91, 0xc0},
	}
	targets := []func() any{
		func() any { return new(string) }, func() any { return new(bool) }, func() any { return new(int32) },
		func() any { return new(uint32) }, func() any { return new([]string) }, func() any { return new(int64) },
	}
	for _, in := range inputs {
		for _, target := range targets {
			got, want := target(), target()
			err := keyvalue.Unmarshal(in, got)
			wantErr := msgpack.Unmarshal(in, want)
			if wantErr != nil {
				require.Error(t, err, "% x into %T: the reflection decoder failed with %v", in, got, wantErr)
				continue
			}
			if isRange(err) {
				continue
			}
			require.NoError(t, err, "% x into %T", in, got)
			require.Equal(t, want, got, "% x into %T", in, got)
		}
	}
}

// isRange reports the codec's range error, by its text (the codec is internal).
func isRange(err error) bool {
	return err != nil && strings.HasSuffix(err.Error(), "msgpack: integer out of range")
}

func FuzzDecodeSetRequestMatchesReflection(f *testing.F) {
	b, _ := keyvalue.SetRequest{Key: "k", Value: "v", Expires: 10}.Encode()
	f.Add(b)
	f.Add([]byte{0x93, 0xa1, 'k', 0xc0, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := keyvalue.DecodeSetRequest(b)
		var want keyvalue.SetRequest
		wantErr := msgpack.Unmarshal(b, &want)
		if isRange(err) {
			return
		}
		if wantErr != nil {
			require.Error(t, err, "the reflection decoder failed with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
