//go:build !wasip1

package httpserver_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

func TestHeaderMapEncodeMsgpack(t *testing.T) {
	req := httpserver.HttpRequest{Method: "GET", Path: "/", Header: httpserver.HeaderMap{"b": {"2"}, "a": {"1", "3"}, "c": nil}, Body: []byte{}}
	want, err := req.Encode()
	require.NoError(t, err)
	got, err := msgpack.Marshal(req)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
