package lattice

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnmarshalRefusesLyingLengths(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"bin32 claiming 4 GiB in an invocation", []byte("\x81\xa3msg\xc6\xf0\x00\x00\x00")},
		{"array of bin32 in a response", []byte("\x94\xc6\xf0\x00\x00\x00")},
		{"map32 claiming 2^32 entries", []byte("\xdf\xff\xff\xff\xff")},
		{"str8 past the end", []byte("\xd9\x10abc")},
		{"truncated uint64", []byte("\xcf\x00\x01")},
		{"trailing bytes", []byte("\xc0\xc0")},
		{"unknown type", []byte("\xc1")},
		{"too deep", append(repeat(0x91, 100), 0xc0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inv Invocation
			err := Unmarshal(tt.in, &inv)
			require.ErrorIs(t, err, ErrMalformedMsgpack)
			_, err = DecodeInvocationResponse(tt.in)
			require.ErrorIs(t, err, ErrMalformedMsgpack)
		})
	}
}

func TestCheckMsgpackAcceptsWhatMarshalWrites(t *testing.T) {
	cl := uint64(7)
	values := []any{
		nil, true, 1, -1, 300, -300, 1 << 40, 3.5, float32(1.5), "", "hello", []byte{}, []byte("x"),
		[]any{1, "a", []byte{2}}, map[string]any{"a": 1, "b": []any{map[string]any{}}},
		&Invocation{Origin: Entity{PublicKey: "M"}, Msg: []byte("hi"), ContentLength: &cl, TraceContext: map[string]string{"a": "b"}},
	}
	for _, v := range values {
		b, err := Marshal(v)
		require.NoError(t, err)
		require.NoError(t, checkMsgpack(b), "%#v", v)
	}
}

func repeat(c byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = c
	}
	return out
}
