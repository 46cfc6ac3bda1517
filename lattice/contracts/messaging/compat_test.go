package messaging_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/messaging"
)

// The codec used to be vmihailenco/msgpack with compact integers; these tests hold the
// hand-written one to the same bytes and the same decoded values.

func TestEncodeMatchesReflection(t *testing.T) {
	long := strings.Repeat("s", 300)
	for _, in := range []encoder{
		messaging.PubMessage{Subject: long, Body: []byte{}}, messaging.PubMessage{Subject: "s", ReplyTo: long, Body: make([]byte, 70000)},
		messaging.RequestMessage{Subject: "s", Body: []byte{}, TimeoutMs: 1 << 31},
		messaging.ReplyMessage{Subject: "s", ReplyTo: "r", Body: []byte("x")},
		messaging.SubMessage{Subject: "s", Body: []byte{}},
	} {
		got, err := in.Encode()
		require.NoError(t, err)
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true)
		require.NoError(t, enc.Encode(in))
		require.Equal(t, buf.Bytes(), got, "%T", in)
	}
}

func FuzzDecodeSubMessageMatchesReflection(f *testing.F) {
	b, _ := messaging.SubMessage{Subject: "s", ReplyTo: "r", Body: []byte("b")}.Encode()
	f.Add(b)
	f.Add([]byte{0x93, 0xa1, 's', 0xc0, 0xa1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := messaging.DecodeSubMessage(b)
		var want messaging.SubMessage
		if wantErr := msgpack.Unmarshal(b, &want); wantErr != nil {
			require.Error(t, err, "the reflection decoder failed with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

func FuzzDecodeRequestMessageMatchesReflection(f *testing.F) {
	b, _ := messaging.RequestMessage{Subject: "s", Body: []byte("b"), TimeoutMs: 2000}.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := messaging.DecodeRequestMessage(b)
		if err != nil && strings.HasSuffix(err.Error(), "integer out of range") {
			return // the old decoder truncated the timeout
		}
		var want messaging.RequestMessage
		if wantErr := msgpack.Unmarshal(b, &want); wantErr != nil {
			require.Error(t, err, "the reflection decoder failed with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
