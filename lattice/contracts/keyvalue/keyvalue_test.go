package keyvalue_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
)

func unhex(t *testing.T, parts ...string) string {
	t.Helper()
	s := strings.ReplaceAll(strings.Join(parts, ""), " ", "")
	_, err := hex.DecodeString(s)
	require.NoError(t, err)
	return s
}

type encoder interface{ Encode() ([]byte, error) }

func TestStructEncoding(t *testing.T) {
	tests := []struct {
		name string
		in   encoder
		want []string
	}{
		{"get response", keyvalue.GetResponse{Value: "v", Exists: true}, []string{
			"82", "a5 76616c7565", "a1 76", "a6 657869737473", "c3"}},
		{"missing get", keyvalue.GetResponse{}, []string{
			"82", "a5 76616c7565", "a0", "a6 657869737473", "c2"}},
		{"set", keyvalue.SetRequest{Key: "k", Value: "v", Expires: 300}, []string{
			"83", "a3 6b6579", "a1 6b", "a5 76616c7565", "a1 76", "a7 65787069726573", "cd 012c"}},
		{"increment", keyvalue.IncrementRequest{Key: "counter::", Value: 1}, []string{
			"82", "a3 6b6579", "a9 636f756e7465723a3a", "a5 76616c7565", "01"}},
		{"decrement", keyvalue.IncrementRequest{Key: "k", Value: -200}, []string{
			"82", "a3 6b6579", "a1 6b", "a5 76616c7565", "d1 ff38"}},
		{"list add", keyvalue.ListAddRequest{ListName: "l", Value: "v"}, []string{
			"82", "a8 6c6973744e616d65", "a1 6c", "a5 76616c7565", "a1 76"}},
		{"list del", keyvalue.ListDelRequest{ListName: "l", Value: "v"}, []string{
			"82", "a8 6c6973744e616d65", "a1 6c", "a5 76616c7565", "a1 76"}},
		{"list range", keyvalue.ListRangeRequest{ListName: "l", Start: 0, Stop: -1}, []string{
			"83", "a8 6c6973744e616d65", "a1 6c", "a5 7374617274", "00", "a4 73746f70", "ff"}},
		{"set add", keyvalue.SetAddRequest{SetName: "s", Value: "v"}, []string{
			"82", "a7 7365744e616d65", "a1 73", "a5 76616c7565", "a1 76"}},
		{"set del", keyvalue.SetDelRequest{SetName: "s", Value: "v"}, []string{
			"82", "a7 7365744e616d65", "a1 73", "a5 76616c7565", "a1 76"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Encode()
			require.NoError(t, err)
			require.Equal(t, unhex(t, tc.want...), hex.EncodeToString(got))
		})
	}
}

func TestScalarEncoding(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"key", "counter", "a7 636f756e746572"},
		{"true", true, "c3"},
		{"small i32", int32(5), "05"},
		{"negative i32", int32(-1), "ff"},
		{"big i32", int32(70000), "ce 00011170"},
		{"u32", uint32(200), "cc c8"},
		{"list", []string{"a", "b"}, "92 a1 61 a1 62"},
		{"nil list", []string(nil), "90"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keyvalue.Marshal(tc.in)
			require.NoError(t, err)
			require.Equal(t, unhex(t, tc.want), hex.EncodeToString(got))
		})
	}
}

func TestRoundTrips(t *testing.T) {
	inc := keyvalue.IncrementRequest{Key: "k", Value: -7}
	b, err := inc.Encode()
	require.NoError(t, err)
	gotInc, err := keyvalue.DecodeIncrementRequest(b)
	require.NoError(t, err)
	require.Equal(t, inc, gotInc)

	set := keyvalue.SetRequest{Key: "k", Value: strings.Repeat("v", 300), Expires: 1}
	b, err = set.Encode()
	require.NoError(t, err)
	gotSet, err := keyvalue.DecodeSetRequest(b)
	require.NoError(t, err)
	require.Equal(t, set, gotSet)

	get := keyvalue.GetResponse{Value: "x", Exists: true}
	b, err = get.Encode()
	require.NoError(t, err)
	gotGet, err := keyvalue.DecodeGetResponse(b)
	require.NoError(t, err)
	require.Equal(t, get, gotGet)

	lr := keyvalue.ListRangeRequest{ListName: "l", Start: 2, Stop: 9}
	b, err = lr.Encode()
	require.NoError(t, err)
	gotLR, err := keyvalue.DecodeListRangeRequest(b)
	require.NoError(t, err)
	require.Equal(t, lr, gotLR)

	for _, in := range []keyvalue.SetAddRequest{{SetName: "s", Value: "v"}} {
		b, err := in.Encode()
		require.NoError(t, err)
		got, err := keyvalue.DecodeSetAddRequest(b)
		require.NoError(t, err)
		require.Equal(t, in, got)
		gotDel, err := keyvalue.DecodeSetDelRequest(b) // same shape
		require.NoError(t, err)
		require.Equal(t, keyvalue.SetDelRequest(in), gotDel)
	}
	la := keyvalue.ListAddRequest{ListName: "l", Value: "v"}
	b, err = la.Encode()
	require.NoError(t, err)
	gotLA, err := keyvalue.DecodeListAddRequest(b)
	require.NoError(t, err)
	require.Equal(t, la, gotLA)
	gotLD, err := keyvalue.DecodeListDelRequest(b)
	require.NoError(t, err)
	require.Equal(t, keyvalue.ListDelRequest(la), gotLD)

	var n int32
	b, err = keyvalue.Marshal(int32(-123456))
	require.NoError(t, err)
	require.NoError(t, keyvalue.Unmarshal(b, &n))
	require.Equal(t, int32(-123456), n)

	var l []string
	b, err = keyvalue.Marshal([]string{"x", "y"})
	require.NoError(t, err)
	require.NoError(t, keyvalue.Unmarshal(b, &l))
	require.Equal(t, []string{"x", "y"}, l)
}

func TestDecodeErrors(t *testing.T) {
	_, err := keyvalue.DecodeIncrementRequest([]byte{0x82, 0xa3, 'k', 'e', 'y'})
	require.ErrorContains(t, err, "decode increment request")
	var s string
	require.ErrorContains(t, keyvalue.Unmarshal([]byte{0xc3}, &s), "decode keyvalue *string")
	var n int32
	require.ErrorContains(t, keyvalue.Unmarshal(nil, &n), "decode keyvalue *int32")
}

func FuzzDecodeIncrementRequest(f *testing.F) {
	seed, _ := keyvalue.IncrementRequest{Key: "k", Value: 1}.Encode()
	f.Add(seed)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := keyvalue.DecodeIncrementRequest(b)
		if err != nil {
			return
		}
		if _, err := r.Encode(); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
