package httpserver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzFastPathAgrees checks that the fast path, when it accepts an input, decodes it exactly as
// the general decoder does.
func FuzzFastPathAgrees(f *testing.F) {
	for _, r := range []HttpRequest{
		{Method: "GET", Path: "/"},
		{Method: "PROPFIND", Path: "/a", QueryString: "x=1", Header: HeaderMap{"a": {"1", "2"}, "b": nil}, Body: []byte("body")},
	} {
		b, err := r.Encode()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeRequestFast(b)
		if !ok {
			return
		}
		general, err := decodeRequest(b)
		require.NoError(t, err)
		require.Equal(t, general, fast)
	})
}

func TestFastPathTakesTheEncodedLayout(t *testing.T) {
	for _, r := range []HttpRequest{
		{Method: "GET", Path: "/"},
		{Method: "POST", Path: string(make([]byte, 300)), QueryString: string(make([]byte, 70000)),
			Header: HeaderMap{"x": {"y"}}, Body: make([]byte, 70000)},
	} {
		b, err := r.Encode()
		require.NoError(t, err)
		got, ok := decodeRequestFast(b)
		require.True(t, ok)
		want, err := decodeRequest(b)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}
