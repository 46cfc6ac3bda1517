package applier_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/applier"
)

func unhex(parts ...string) string {
	return strings.ReplaceAll(strings.Join(parts, ""), " ", "")
}

func TestEncoding(t *testing.T) {
	ok, err := applier.OperationResponse{Succeeded: true}.Encode()
	require.NoError(t, err)
	require.Equal(t, unhex("81", "a9 737563636565646564", "c3"), hex.EncodeToString(ok))

	failed, err := applier.OperationResponse{Error: "no"}.Encode()
	require.NoError(t, err)
	require.Equal(t, unhex("82", "a9 737563636565646564", "c2", "a5 6572726f72", "a2 6e6f"), hex.EncodeToString(failed))

	del, err := applier.DeleteRequest{Version: "v1", Kind: "Service", Name: "mx"}.Encode()
	require.NoError(t, err)
	require.Equal(t, unhex("84",
		"a5 67726f7570", "a0", // "group": ""
		"a7 76657273696f6e", "a2 7631", // "version": "v1"
		"a4 6b696e64", "a7 53657276696365", // "kind": "Service"
		"a4 6e616d65", "a2 6d78", // "name": "mx"
	), hex.EncodeToString(del))

	withNS, err := applier.DeleteRequest{Version: "v1", Kind: "Service", Name: "mx", Namespace: "app"}.Encode()
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(hex.EncodeToString(withNS), unhex("a9 6e616d657370616365", "a3 617070")))
}

func TestManifest(t *testing.T) {
	b, err := applier.EncodeManifest([]byte{'a', 0xff, 0})
	require.NoError(t, err)
	require.Equal(t, unhex("93", "61", "cc ff", "00"), hex.EncodeToString(b))

	big := []byte(strings.Repeat("kind: Service\n", 100))
	b, err = applier.EncodeManifest(big)
	require.NoError(t, err)
	require.Equal(t, "dc0578", hex.EncodeToString(b[:3])) // array16 of 1400

	for name, in := range map[string][]byte{
		"array": b,
		"bin":   append([]byte{0xc5, 0x05, 0x78}, big...),
		"str":   append([]byte{0xda, 0x05, 0x78}, big...),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := applier.DecodeManifest(in)
			require.NoError(t, err)
			require.Equal(t, big, got)
		})
	}

	for name, in := range map[string][]byte{
		"empty":       nil,
		"not a byte":  {0x91, 0xcd, 0x01, 0x00},
		"negative":    {0x91, 0xff},
		"short array": {0xdc, 0xff, 0xff, 0x01},
		"bool":        {0xc3},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := applier.DecodeManifest(in)
			require.ErrorContains(t, err, "decode manifest")
		})
	}
}

func TestRoundTrips(t *testing.T) {
	del := applier.DeleteRequest{Group: "apps", Version: "v1", Kind: "Deployment", Name: "x", Namespace: "y"}
	b, err := del.Encode()
	require.NoError(t, err)
	got, err := applier.DecodeDeleteRequest(b)
	require.NoError(t, err)
	require.Equal(t, del, got)

	resp := applier.OperationResponse{Error: "boom"}
	b, err = resp.Encode()
	require.NoError(t, err)
	gotResp, err := applier.DecodeOperationResponse(b)
	require.NoError(t, err)
	require.Equal(t, resp, gotResp)
}

func FuzzDecodeManifest(f *testing.F) {
	seed, _ := applier.EncodeManifest([]byte("apiVersion: v1\n"))
	f.Add(seed)
	f.Add([]byte{0xc4, 0x01, 0x41})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := applier.DecodeManifest(b)
		if err != nil {
			return
		}
		again, err := applier.EncodeManifest(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := applier.DecodeManifest(again)
		if err != nil || string(back) != string(m) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
