package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "one", in: "ADDRESS=127.0.0.1:8080", want: map[string]string{"ADDRESS": "127.0.0.1:8080"}},
		{name: "lines, blanks, comments and CRLF", in: "# the server\r\nADDRESS = 0.0.0.0:80 \r\n\r\n  timeout_ms=500\n",
			want: map[string]string{"ADDRESS": "0.0.0.0:80", "timeout_ms": "500"}},
		{name: "value keeps later equals signs", in: `config_json={"a":"b=c"}`, want: map[string]string{"config_json": `{"a":"b=c"}`}},
		{name: "empty value", in: "KEY=", want: map[string]string{"KEY": ""}},
		{name: "no equals", in: "A=1\nNOPE", err: `line 2 "NOPE": want KEY=VALUE`},
		{name: "empty key", in: "=x", err: "empty key"},
		{name: "space in key", in: "MY KEY=x", err: "contains white space"},
		{name: "twice", in: "A=1\nA=2", err: `line 2: key "A" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseValues(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseValues(f *testing.F) {
	for _, s := range []string{"", "A=1", "A=1\nB=2", "# c\n\nK = v \r\n", "=x", "A=1\nA=2", "x", "A=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseValues(in)
		if err != nil {
			return
		}
		for k, v := range got {
			require.NotEmpty(t, k)
			require.NotContains(t, k, "=")
			require.False(t, strings.ContainsAny(k, " \t\r\n"), "key %q", k)
			require.Equal(t, strings.TrimSpace(v), v)
		}
		// The canonical form parses back to the same map.
		var b strings.Builder
		for k, v := range got {
			b.WriteString(k + "=" + v + "\n")
		}
		again, err := parseValues(b.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

func TestKeyValuesParse(t *testing.T) {
	tests := []struct {
		name, raw string
		want      map[string]string
		err       string
	}{
		{name: "absent", raw: "", want: map[string]string{}},
		{name: "null", raw: "null", want: map[string]string{}},
		{name: "lines", raw: `"A=1\nB=2"`, want: map[string]string{"A": "1", "B": "2"}},
		{name: "object", raw: `{"A":"1"}`, want: map[string]string{"A": "1"}},
		{name: "object of numbers", raw: `{"A":1}`, err: "values: want KEY=VALUE lines or an object of strings"},
		{name: "bad line", raw: `"A"`, err: "values: line 1"},
		{name: "empty key", raw: `{" ":"x"}`, err: "values: empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kv keyValues
			e := kv.parse("values", json.RawMessage(tt.raw))
			if tt.err != "" {
				require.NotNil(t, e)
				require.Equal(t, "values", e.Field)
				require.Contains(t, e.Error(), tt.err)
				return
			}
			require.Nil(t, e)
			require.Equal(t, tt.want, map[string]string(kv))
		})
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to the strict decoder: it must answer an error or a
// request, never panic, and name a field only with a 400.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"ref":"x"}`, `{"ref":5}`, `{"count":"2"}`, `{"x":1}`, `[1]`, `{"ref":"a"} {}`, `{"constraints":{"a":"b"}}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/api/actors", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req startActorRequest
		e := decodeJSON(httptest.NewRecorder(), r, &req)
		if e == nil {
			var cons keyValues
			e = cons.parse("constraints", req.Constraints)
		}
		if e != nil {
			require.NotEmpty(t, e.Msg)
			if e.Field != "" {
				require.Equal(t, http.StatusBadRequest, e.Status)
			}
		}
	})
}

func TestDecodeJSONNamesTheField(t *testing.T) {
	tests := []struct {
		name, ct, body string
		status         int
		field, msg     string
	}{
		{name: "wrong type", body: `{"ref": 5}`, status: 400, field: "ref", msg: "ref: want a string, got number"},
		{name: "count as text", body: `{"ref":"x","count":"two"}`, status: 400, field: "count", msg: "count: want a number, got string"},
		{name: "unknown field", body: `{"ref":"x","image":"y"}`, status: 400, field: "image", msg: "image: unknown field"},
		{name: "syntax", body: `{"ref": }`, status: 400, msg: "invalid JSON at byte"},
		{name: "empty", body: ``, status: 400, msg: "empty, want a JSON object"},
		{name: "not an object", body: `[1]`, status: 400, msg: "want a JSON object, got array"},
		{name: "trailing", body: `{"ref":"x"} {"ref":"y"}`, status: 400, msg: "unexpected data after the JSON object"},
		{name: "truncated", body: `{"ref":"x"`, status: 400, msg: "ends too early"},
		{name: "form post", ct: "application/x-www-form-urlencoded", body: `ref=x`, status: 415, msg: "want application/json"},
		{name: "no content type", ct: "-", body: `{"ref":"x"}`, status: 415, msg: "missing"},
		{name: "too big", body: `{"ref":"` + strings.Repeat("x", maxBody) + `"}`, status: 413, msg: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/actors", strings.NewReader(tt.body))
			switch tt.ct {
			case "":
				r.Header.Set("Content-Type", "application/json; charset=utf-8")
			case "-":
			default:
				r.Header.Set("Content-Type", tt.ct)
			}
			var req startActorRequest
			e := decodeJSON(httptest.NewRecorder(), r, &req)
			require.NotNil(t, e)
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.field, e.Field)
			require.Contains(t, e.Error(), tt.msg)
		})
	}
}
