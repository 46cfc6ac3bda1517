package lattice

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func codecCases(t testing.TB) []*Invocation {
	cluster, err := CreateKeyPair(PrefixCluster)
	require.NoError(t, err)
	actor, err := CreateKeyPair(PrefixModule)
	require.NoError(t, err)
	origin := Entity{PublicKey: "VPROVIDER", ContractID: "wasmcloud:httpserver", LinkName: "default"}
	n := uint64(7)
	big := uint64(1 << 40)
	var out []*Invocation
	for _, msg := range [][]byte{nil, {}, {0x80}, bytes.Repeat([]byte{1}, 255), bytes.Repeat([]byte{2}, 256), bytes.Repeat([]byte{3}, 70000)} {
		inv, err := NewInvocation(cluster, "NHOST", origin, Entity{PublicKey: actor.PublicKey()}, "HttpServer.HandleRequest", msg)
		require.NoError(t, err)
		inv.Msg = msg
		out = append(out, inv)
	}
	long := &Invocation{
		Origin: Entity{PublicKey: strings.Repeat("o", 31)}, Target: Entity{PublicKey: strings.Repeat("t", 32), LinkName: strings.Repeat("l", 300), ContractID: strings.Repeat("c", 70000)},
		Operation: "Op", Msg: []byte("x"), ID: "id", EncodedClaims: strings.Repeat("e", 255), HostID: "", ContentLength: &n,
		TraceContext: map[string]string{"traceparent": "00-1-2-01", "b": "", "a": strings.Repeat("v", 40)},
	}
	out = append(out, long, &Invocation{Operation: "O", ContentLength: &big})
	return out
}

// The envelope codec writes exactly what the generic codec writes, and reads it back the same.
func TestInvocationCodecMatchesGeneric(t *testing.T) {
	for i, inv := range codecCases(t) {
		fast, err := inv.Encode()
		require.NoError(t, err)
		generic, err := Marshal(inv)
		require.NoError(t, err)
		if len(inv.TraceContext) <= 1 { // the generic codec writes maps in iteration order
			require.Equal(t, generic, fast, "case %d", i)
		}
		got, err := decodeInvocationFast(fast)
		require.NoError(t, err, "case %d", i)
		var want Invocation
		require.NoError(t, Unmarshal(generic, &want))
		requireSameInvocation(t, &want, got)

		resp := &InvocationResponse{Msg: inv.Msg, InvocationID: inv.ID, Error: inv.Operation, ContentLength: inv.ContentLength}
		fastR := resp.appendTo(nil)
		genericR, err := Marshal(resp)
		require.NoError(t, err)
		require.Equal(t, genericR, fastR, "response case %d", i)
		gotR, err := decodeResponseFast(fastR)
		require.NoError(t, err)
		var wantR InvocationResponse
		require.NoError(t, Unmarshal(genericR, &wantR))
		requireSameResponse(t, &wantR, gotR)
	}
}

// Shapes the envelope reader leaves to the generic decoder still decode (or fail) as before.
func TestInvocationCodecFallsBack(t *testing.T) {
	// A map with a key the envelope does not have (the generic decoder skips it).
	withExtra, err := Marshal(map[string]any{"operation": "Op", "id": "x", "extra": []int{1, 2}})
	require.NoError(t, err)
	for name, data := range map[string][]byte{"unknown key": withExtra} {
		_, fastErr := decodeInvocationFast(data)
		require.ErrorIs(t, fastErr, errNotFast, name)
		got, err := DecodeInvocation(data)
		require.NoError(t, err, name)
		var want Invocation
		require.NoError(t, Unmarshal(data, &want))
		requireSameInvocation(t, &want, got)
	}
}

func requireSameInvocation(t testing.TB, want, got *Invocation) {
	t.Helper()
	require.Equal(t, want.Origin, got.Origin)
	require.Equal(t, want.Target, got.Target)
	require.Equal(t, want.Operation, got.Operation)
	require.True(t, bytes.Equal(want.Msg, got.Msg), "msg")
	require.Equal(t, want.Msg == nil, got.Msg == nil, "msg nil")
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.EncodedClaims, got.EncodedClaims)
	require.Equal(t, want.HostID, got.HostID)
	require.Equal(t, want.ContentLength, got.ContentLength)
	if len(want.TraceContext) > 0 || len(got.TraceContext) > 0 {
		require.Equal(t, want.TraceContext, got.TraceContext)
	}
}

func requireSameResponse(t testing.TB, want, got *InvocationResponse) {
	t.Helper()
	require.True(t, bytes.Equal(want.Msg, got.Msg), "msg")
	require.Equal(t, want.InvocationID, got.InvocationID)
	require.Equal(t, want.Error, got.Error)
	require.Equal(t, want.ContentLength, got.ContentLength)
}

// FuzzInvocationCodec checks that whatever the envelope reader accepts, the generic decoder
// reads the same way.
func FuzzInvocationCodec(f *testing.F) {
	for _, inv := range codecCases(f)[:3] {
		b, _ := inv.Encode()
		f.Add(b)
		f.Add((&InvocationResponse{Msg: inv.Msg, InvocationID: inv.ID, Error: "e"}).appendTo(nil))
	}
	f.Add([]byte{0x81, 0xa3, 'm', 's', 'g', 0xc0})
	f.Add([]byte{0x82, 0xa2, 'i', 'd', 0xd9, 0x01, 'x', 0xa9, 'o', 'p', 'e', 'r', 'a', 't', 'i', 'o', 'n', 0xa1, 'O'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, err := decodeInvocationFast(data); err == nil {
			var want Invocation
			require.NoError(t, Unmarshal(data, &want), "the generic decoder refuses what the envelope reader took")
			requireSameInvocation(t, &want, got)
			again, err := decodeInvocationFast(got.appendTo(nil))
			require.NoError(t, err)
			requireSameInvocation(t, got, again)
		}
		if got, err := decodeResponseFast(data); err == nil {
			var want InvocationResponse
			require.NoError(t, Unmarshal(data, &want), "the generic decoder refuses what the envelope reader took")
			requireSameResponse(t, &want, got)
		}
	})
}

func BenchmarkInvocationCodec(b *testing.B) {
	inv := codecCases(b)[2]
	data, _ := inv.Encode()
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = inv.appendTo(buf[:0])
		}
	})
	b.Run("encode-generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = Marshal(inv)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = DecodeInvocation(data)
		}
	})
	b.Run("decode-generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var inv Invocation
			_ = Unmarshal(data, &inv)
		}
	})
}
