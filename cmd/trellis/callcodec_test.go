package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

func TestJSONToMsgpack(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []byte
	}{
		{"small int", `1`, []byte{0x01}},
		{"negative", `-1`, []byte{0xff}},
		{"uint16", `300`, []byte{0xcd, 0x01, 0x2c}},
		{"big uint", `18446744073709551615`, []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"float", `1.5`, []byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{"string", `"hi"`, []byte{0xa2, 'h', 'i'}},
		{"null", `null`, []byte{0xc0}},
		{"bools", `[true,false]`, []byte{0x92, 0xc3, 0xc2}},
		{"sorted keys", `{"b":1,"a":2}`, []byte{0x82, 0xa1, 'a', 0x02, 0xa1, 'b', 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonToMsgpack([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{``, `{`, `{"a":1} {"b":2}`, `nope`} {
		_, err := jsonToMsgpack([]byte(bad))
		require.ErrorContains(t, err, "not valid JSON", bad)
	}
}

// The echo request of the acceptance test, built from JSON, decodes as an HTTP request: the
// JSON string body is accepted where the contract has bytes.
func TestJSONToMsgpackHTTPRequest(t *testing.T) {
	b, err := jsonToMsgpack([]byte(`{"method":"GET","path":"/","queryString":"","header":{},"body":""}`))
	require.NoError(t, err)
	req, err := httpserver.DecodeRequest(b)
	require.NoError(t, err)
	require.Equal(t, "GET", req.Method)
	require.Equal(t, "/", req.Path)
	require.Empty(t, req.Body)

	b, err = jsonToMsgpack([]byte(`{"method":"POST","path":"/x","queryString":"a=1","header":{"X":["1"]},"body":"hello"}`))
	require.NoError(t, err)
	req, err = httpserver.DecodeRequest(b)
	require.NoError(t, err)
	require.Equal(t, []byte("hello"), req.Body)
	require.Equal(t, []string{"1"}, req.Header["X"])
}

func TestMsgpackToJSONHTTPResponse(t *testing.T) {
	body := `{"body":[],"method":"GET","path":"/","query_string":""}`
	b, err := httpserver.HttpResponse{StatusCode: 200, Body: []byte(body)}.Encode()
	require.NoError(t, err)
	v, err := msgpackToJSON(b)
	require.NoError(t, err)

	text, err := formatCallText(v)
	require.NoError(t, err)
	require.Equal(t, "statusCode: 200\nheader: {}\nbody: "+body, text)

	js, err := marshalCompact(v)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, body, back["body"])
}

func TestMsgpackToJSONValues(t *testing.T) {
	enc := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		json string
		text string
	}{
		{"int", enc(42), `42`, `42`},
		{"string", enc("hi"), `"hi"`, `hi`},
		{"binary bytes", enc([]byte{0xff, 0x00}), `[255,0]`, `[255,0]`},
		{"nil", enc(nil), `null`, `null`},
		{"float", enc(0.5), `0.5`, `0.5`},
		{"int key", enc(map[int]string{1: "a"}), `{"1":"a"}`, `1: a`},
		{"nested", enc(map[string]any{"l": []any{true, "x", []byte("y")}}), `{"l":[true,"x","y"]}`, `l: [true,"x","y"]`},
		{"empty map", enc(map[string]int{}), `{}`, `{}`},
		{"ext", []byte{0xd4, 0x05, 0x07}, `{"type":5,"data":[7]}`, "type: 5\ndata: [7]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := msgpackToJSON(tc.in)
			require.NoError(t, err)
			js, err := marshalCompact(v)
			require.NoError(t, err)
			require.Equal(t, tc.json, string(js))
			text, err := formatCallText(v)
			require.NoError(t, err)
			require.Equal(t, tc.text, text)
		})
	}
	_, err := msgpackToJSON([]byte{0x01, 0x02})
	require.ErrorContains(t, err, "1 bytes left")
	_, err = msgpackToJSON([]byte{0x92, 0x01})
	require.ErrorContains(t, err, "not msgpack")
	// A 5-byte header claiming 2 GiB is refused before anything is allocated for it.
	for _, lie := range [][]byte{{0xc6, 0x7f, 0xff, 0xff, 0xff}, {0xdb, 0x7f, 0xff, 0xff, 0xff}, {0xc9, 0x7f, 0xff, 0xff, 0xff, 1}} {
		_, err = msgpackToJSON(lie)
		require.ErrorContains(t, err, "exceeds the", "%x", lie)
	}
	_, err = msgpackToJSON(bytes.Repeat([]byte{0x91}, maxNesting+10))
	require.ErrorIs(t, err, errTooDeep)
}

func FuzzJSONToMsgpack(f *testing.F) {
	for _, s := range []string{`{"method":"GET","path":"/","queryString":"","header":{},"body":""}`,
		`[1,-2,3.5,"x",null,true,{"a":[]}]`, `18446744073709551615`, `-9223372036854775809`, `1e400`, `"\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		mp, err := jsonToMsgpack(doc)
		if err != nil {
			return
		}
		// Whatever we encode must decode again, to the same JSON for plain documents.
		v, err := msgpackToJSON(mp)
		if err != nil {
			t.Fatalf("encoded %q to msgpack %x that does not decode: %v", doc, mp, err)
		}
		if _, err := marshalCompact(v); err != nil {
			t.Fatalf("decoded value of %q does not marshal: %v", doc, err)
		}
	})
}

func FuzzMsgpackToJSON(f *testing.F) {
	b, _ := httpserver.HttpResponse{StatusCode: 200, Body: []byte("ok")}.Encode()
	f.Add(b)
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}) // map32 claiming 4G entries
	f.Add([]byte{0xc6, 0x7f, 0xff, 0xff, 0xff}) // bin32 claiming 2 GiB
	f.Add([]byte{0xd4, 0x05, 0x07})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := msgpackToJSON(data)
		if err != nil {
			return
		}
		if _, err := marshalCompact(v); err != nil {
			t.Fatalf("decoded %x does not marshal as JSON: %v", data, err)
		}
		if _, err := formatCallText(v); err != nil {
			t.Fatalf("decoded %x does not format: %v", data, err)
		}
	})
}
