package httpserver_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// unhex joins hex fragments (spaces allowed) into bytes; each fragment is one msgpack item,
// written by hand from the msgpack spec.
func unhex(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	require.NoError(t, err)
	return b
}

func TestRequestEncoding(t *testing.T) {
	tests := []struct {
		name string
		req  httpserver.HttpRequest
		want []string
	}{
		{
			name: "GET / with nil header and body",
			req:  httpserver.HttpRequest{Method: "GET", Path: "/"},
			want: []string{
				"85",                           // fixmap, 5 entries
				"a6 6d6574686f64", "a3 474554", // "method": "GET"
				"a4 70617468", "a1 2f", // "path": "/"
				"ab 7175657279537472696e67", "a0", // "queryString": ""
				"a6 686561646572", "80", // "header": {}
				"a4 626f6479", "c4 00", // "body": bin8, 0 bytes
			},
		},
		{
			name: "POST with query, header and body",
			req: httpserver.HttpRequest{
				Method:      "POST",
				Path:        "/a",
				QueryString: "x=1",
				Header:      httpserver.HeaderMap{"accept": {"*/*"}},
				Body:        []byte("hello"),
			},
			want: []string{
				"85",
				"a6 6d6574686f64", "a4 504f5354", // "method": "POST"
				"a4 70617468", "a2 2f61", // "path": "/a"
				"ab 7175657279537472696e67", "a3 783d31", // "queryString": "x=1"
				"a6 686561646572", "81 a6 616363657074 91 a3 2a2f2a", // {"accept": ["*/*"]}
				"a4 626f6479", "c4 05 68656c6c6f", // bin8 "hello"
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Encode()
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(unhex(t, tc.want...)), hex.EncodeToString(got))
		})
	}
}

func TestResponseEncoding(t *testing.T) {
	tests := []struct {
		name string
		resp httpserver.HttpResponse
		want []string
	}{
		{
			name: "200 with empty body",
			resp: httpserver.HttpResponse{StatusCode: 200},
			want: []string{
				"83",
				"aa 737461747573436f6465", "cc c8", // "statusCode": uint8 200
				"a6 686561646572", "80", // "header": {}
				"a4 626f6479", "c4 00", // "body": empty bin
			},
		},
		{
			name: "404 with sorted headers",
			resp: httpserver.HttpResponse{
				StatusCode: 404,
				Header:     httpserver.HeaderMap{"b": {"2"}, "a": {"1", "3"}, "c": nil},
				Body:       []byte("no"),
			},
			want: []string{
				"83",
				"aa 737461747573436f6465", "cd 0194", // uint16 404
				"a6 686561646572", "83 a1 61 92 a1 31 a1 33 a1 62 91 a1 32 a1 63 90",
				"a4 626f6479", "c4 02 6e6f",
			},
		},
		{
			name: "small status fits a positive fixint",
			resp: httpserver.HttpResponse{StatusCode: 100, Body: []byte{}},
			want: []string{
				"83",
				"aa 737461747573436f6465", "64",
				"a6 686561646572", "80",
				"a4 626f6479", "c4 00",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.resp.Encode()
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(unhex(t, tc.want...)), hex.EncodeToString(got))
		})
	}
}

func TestRoundTrip(t *testing.T) {
	req := httpserver.HttpRequest{
		Method:      "PUT",
		Path:        "/x/y",
		QueryString: "a=1&b=2",
		Header:      httpserver.HeaderMap{"Content-Type": {"text/plain"}, "X-Many": {"1", "2"}},
		Body:        make([]byte, 70000), // bin32
	}
	b, err := req.Encode()
	require.NoError(t, err)
	got, err := httpserver.DecodeRequest(b)
	require.NoError(t, err)
	require.Equal(t, req, got)

	resp := httpserver.HttpResponse{StatusCode: 503, Header: httpserver.HeaderMap{"Retry-After": {"1"}}, Body: []byte("busy")}
	b, err = resp.Encode()
	require.NoError(t, err)
	gotResp, err := httpserver.DecodeResponse(b)
	require.NoError(t, err)
	require.Equal(t, resp, gotResp)
}

func TestDecodeLenient(t *testing.T) {
	// Unknown fields are skipped and missing ones stay zero, as serde(default) does upstream.
	b := unhex(t, "82", "a6 6d6574686f64", "a3 474554", "a5 6578747261", "c3")
	got, err := httpserver.DecodeRequest(b)
	require.NoError(t, err)
	require.Equal(t, httpserver.HttpRequest{Method: "GET"}, got)
}

func TestDecodeErrors(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":         nil,
		"truncated":     {0x85, 0xa6, 'm', 'e'},
		"not a map":     {0xa3, 'G', 'E', 'T'},
		"wrong type":    {0x81, 0xa4, 'p', 'a', 't', 'h', 0xc3},
		"bad body type": {0x81, 0xa4, 'b', 'o', 'd', 'y', 0x92, 0x01, 0x02},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := httpserver.DecodeRequest(in)
			require.ErrorContains(t, err, "decode http request")
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	seed, _ := httpserver.HttpRequest{Method: "GET", Path: "/", Body: []byte("x")}.Encode()
	f.Add(seed)
	f.Add([]byte{0x80})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := httpserver.DecodeRequest(b)
		if err != nil {
			return
		}
		if _, err := r.Encode(); err != nil {
			t.Fatalf("re-encode of decoded request: %v", err)
		}
	})
}
