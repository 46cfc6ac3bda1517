package applier_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/lattice"
)

func TestServicePort(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		values map[string]string
		want   int32
	}{
		{"nothing: 8080", nil, 8080},
		{"port", map[string]string{"port": "9000"}, 9000},
		{"PORT in capitals", map[string]string{"PORT": " 9001 "}, 9001},
		{"address", map[string]string{"ADDRESS": "0.0.0.0:8081"}, 8081},
		{"IPv6 address", map[string]string{"address": "[::]:8082"}, 8082},
		{"address without host", map[string]string{"address": ":8083"}, 8083},
		{"port wins over address", map[string]string{"address": "0.0.0.0:1", "port": "2"}, 2},
		{"address wins over config_json", map[string]string{"address": "0.0.0.0:3", "config_json": `{"address":"0.0.0.0:4"}`}, 3},
		{"config_json", map[string]string{"config_json": `{"address":"127.0.0.1:8123","timeout_ms":5}`}, 8123},
		{"config_json without address falls through", map[string]string{"config_json": `{"timeout_ms":5}`, "config_b64": b64(`{"address":"0.0.0.0:8124"}`)}, 8124},
		{"config_b64", map[string]string{"config_b64": b64(`{"address":"0.0.0.0:8125"}`)}, 8125},
		{"other values are ignored", map[string]string{"cors": "x"}, 8080},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applier.ServicePort(lattice.LinkDefinition{Values: tc.values})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, tc := range []struct {
		values map[string]string
		want   string
	}{
		{map[string]string{"port": "http"}, `port "http": want a number from 1 to 65535`},
		{map[string]string{"port": "0"}, `port "0"`},
		{map[string]string{"port": "65536"}, `port "65536"`},
		{map[string]string{"port": "-1"}, `port "-1"`},
		{map[string]string{"address": "8080"}, `address "8080": want IP:PORT`},
		{map[string]string{"address": "0.0.0.0:http"}, `address port "http"`},
		{map[string]string{"config_json": "{"}, "config_json: not a JSON object"},
		{map[string]string{"config_json": `{"address":"nowhere"}`}, `config_json address "nowhere"`},
		{map[string]string{"config_b64": "%%%"}, "config_b64: not base64"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := applier.ServicePort(lattice.LinkDefinition{Values: tc.values})
			require.ErrorIs(t, err, applier.ErrPort)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestServiceName(t *testing.T) {
	id := "MBCFOPM6JW2APJLXJD3Z5O4CN7CPYJ2B4FTKLJUR5YR5MITIU7HD3WD5"
	require.Equal(t, "mbcfopm6jw2apjlxjd3z5o4cn7cpyj2b4ftkljur5yr5mitiu7hd3wd5", applier.ServiceName(id))
}

func FuzzServicePort(f *testing.F) {
	f.Add("port", "8080")
	f.Add("address", "0.0.0.0:8080")
	f.Add("address", "[::1]:1")
	f.Add("config_json", `{"address":"0.0.0.0:9"}`)
	f.Add("config_b64", "eyJhZGRyZXNzIjoiMC4wLjAuMDo5In0=")
	f.Fuzz(func(t *testing.T, key, value string) {
		p, err := applier.ServicePort(lattice.LinkDefinition{Values: map[string]string{key: value}})
		if err != nil {
			if !errors.Is(err, applier.ErrPort) {
				t.Fatalf("error does not wrap ErrPort: %v", err)
			}
			return
		}
		if p < 1 || p > 65535 {
			t.Fatalf("port %d out of range", p)
		}
	})
}

func TestParseManifest(t *testing.T) {
	for _, tc := range []struct{ name, manifest, kind, ns string }{
		{"YAML", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: x\n", "Service", "x"},
		{"JSON", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"}}`, "Deployment", ""},
		{"document separators around it", "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n", "ConfigMap", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := applier.ParseManifest([]byte(tc.manifest))
			require.NoError(t, err)
			require.Equal(t, tc.kind, obj.GetKind())
			require.Equal(t, "a", obj.GetName())
			require.Equal(t, tc.ns, obj.GetNamespace())
		})
	}
	for _, tc := range []struct{ manifest, want string }{
		{"", "no object in it"},
		{"---\n---\n", "no object in it"},
		{"kind: [", "not a YAML or JSON object"},
		{"just words", "not a YAML or JSON object"},
		{"[1, 2]", "not a YAML or JSON object"},
		{"{", "not a YAML or JSON object"},
		{"kind: Service\nmetadata: {name: a}\n", "apiVersion is missing or not a string"},
		{"apiVersion: 1\nkind: Service\nmetadata: {name: a}\n", "apiVersion is missing or not a string"},
		{"apiVersion: a/b/c\nkind: Service\nmetadata: {name: a}\n", `apiVersion "a/b/c"`},
		{"apiVersion: v1\nmetadata: {name: a}\n", "kind is missing or not a string"},
		{"apiVersion: v1\nkind: Service\n", "Service has no metadata.name"},
		{"apiVersion: v1\nkind: Service\nmetadata: [a]\n", "metadata is not an object"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: 5}\n", "Service has no metadata.name"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: [x]}\n", "metadata.namespace is not a string"},
		{"apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n", "2 objects in it; Apply takes one"},
		{strings.Repeat("#", 3<<20+1), "more than"},
	} {
		name := tc.want
		t.Run(name, func(t *testing.T) {
			_, err := applier.ParseManifest([]byte(tc.manifest))
			require.ErrorIs(t, err, applier.ErrManifest)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`))
	f.Add([]byte("---\na: b\n---\nc: d\n"))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		obj, err := applier.ParseManifest(manifest)
		if err != nil {
			if !errors.Is(err, applier.ErrManifest) {
				t.Fatalf("error does not wrap ErrManifest: %v", err)
			}
			return
		}
		if obj.GetName() == "" || obj.GetKind() == "" || obj.GetAPIVersion() == "" {
			t.Fatalf("accepted a manifest without name, kind or apiVersion: %q", manifest)
		}
	})
}
