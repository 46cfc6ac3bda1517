package applier_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/applier"
)

// The codec used to be vmihailenco/msgpack with compact integers; these tests hold the
// hand-written one to the same bytes and the same decoded values.

type encoder interface{ Encode() ([]byte, error) }

func TestEncodeMatchesReflection(t *testing.T) {
	long := strings.Repeat("n", 40)
	for _, in := range []encoder{
		applier.OperationResponse{}, applier.OperationResponse{Succeeded: true, Error: long},
		applier.DeleteRequest{}, applier.DeleteRequest{Group: "apps", Version: "v1", Kind: "Deployment", Name: long, Namespace: "x"},
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

func FuzzDecodeDeleteRequestMatchesReflection(f *testing.F) {
	b, _ := applier.DeleteRequest{Version: "v1", Kind: "Service", Name: "x", Namespace: "y"}.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := applier.DecodeDeleteRequest(b)
		var want applier.DeleteRequest
		if wantErr := msgpack.Unmarshal(b, &want); wantErr != nil {
			require.Error(t, err, "the reflection decoder failed with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
