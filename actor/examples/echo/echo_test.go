package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// reference is how the echo example wrote its reply before it built the JSON by hand.
func reference(t testing.TB, r httpserver.HttpRequest) []byte {
	body := make([]uint16, len(r.Body))
	for i, c := range r.Body {
		body[i] = uint16(c)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Body        []uint16 `json:"body"`
		Method      string   `json:"method"`
		Path        string   `json:"path"`
		QueryString string   `json:"query_string"`
	}{body, r.Method, r.Path, r.QueryString})
	require.NoError(t, err)
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

func TestAppendEcho(t *testing.T) {
	tests := []struct {
		name string
		req  httpserver.HttpRequest
		want string
	}{
		{"get", httpserver.HttpRequest{Method: "GET", Path: "/"}, `{"body":[],"method":"GET","path":"/","query_string":""}`},
		{"body and query", httpserver.HttpRequest{Method: "POST", Path: "/a/b", QueryString: "x=1&y=<2>", Body: []byte{0, 'a', 255}},
			`{"body":[0,97,255],"method":"POST","path":"/a/b","query_string":"x=1&y=<2>"}`},
		{"escapes", httpserver.HttpRequest{Method: "G\"\\", Path: "/\n\t\r\b\f\x01\x1f\x7f", QueryString: "\u2028\u2029é\xff"},
			`{"body":[],"method":"G\"\\","path":"/\n\t\r\b\f\u0001\u001f` + "\x7f" + `","query_string":"\u2028\u2029é\ufffd"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appendEcho(nil, tc.req)
			require.Equal(t, tc.want, string(got))
			require.Equal(t, string(reference(t, tc.req)), string(got))
		})
	}
}

// FuzzAppendEchoMatchesEncodingJSON checks the hand-written JSON against encoding/json.
func FuzzAppendEchoMatchesEncodingJSON(f *testing.F) {
	f.Add("GET", "/", "", []byte(nil))
	f.Add("POST", "/x?<&>", "a=\"b\"\\", []byte("body"))
	f.Add("\x00\u2028", "\xed\xa0\x80", "\xf4\x90\x80\x80", []byte{1, 2})
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		r := httpserver.HttpRequest{Method: method, Path: path, QueryString: query, Body: body}
		want := reference(t, r)
		if got := appendEcho([]byte("prefix"), r); string(got) != "prefix"+string(want) {
			t.Fatalf("got  %q\nwant %q", got[len("prefix"):], want)
		}
	})
}

func BenchmarkAppendEcho(b *testing.B) {
	r := httpserver.HttpRequest{Method: "GET", Path: "/"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEcho(buf[:0], r)
	}
}

func BenchmarkEncodingJSON(b *testing.B) {
	r := httpserver.HttpRequest{Method: "GET", Path: "/"}
	b.ReportAllocs()
	for b.Loop() {
		reference(b, r)
	}
}
