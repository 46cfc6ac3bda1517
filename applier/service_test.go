package applier_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/applier"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver/httpservertest"
)

// TestServicePort runs the listen-address table the contract and the httpserver provider share
// (httpservertest) against the applier: a reachable listener gets a Service on its port; an
// unreachable one none (ErrUnreachable); malformed values an error (ErrLinkValues), as the
// provider refuses them.
func TestServicePort(t *testing.T) {
	for _, tc := range httpservertest.ListenCases() {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := applier.ServicePort(lattice.LinkDefinition{Values: tc.Values})
			switch {
			case tc.Error != "":
				require.ErrorIs(t, err, httpserver.ErrLinkValues)
				require.ErrorContains(t, err, tc.Error)
			case !tc.Reachable:
				require.ErrorIs(t, err, httpserver.ErrUnreachable)
				require.NotErrorIs(t, err, httpserver.ErrLinkValues)
			default:
				require.NoError(t, err)
				want, perr := netip.ParseAddrPort(tc.Address)
				require.NoError(t, perr)
				require.Equal(t, int32(want.Port()), got)
			}
		})
	}
}

func TestServiceName(t *testing.T) {
	id := "MBCFOPM6JW2APJLXJD3Z5O4CN7CPYJ2B4FTKLJUR5YR5MITIU7HD3WD5"
	require.Equal(t, "mbcfopm6jw2apjlxjd3z5o4cn7cpyj2b4ftkljur5yr5mitiu7hd3wd5", applier.ServiceName(id))
}

func FuzzServicePort(f *testing.F) {
	f.Add("port", "8080")
	f.Add("PORT", "0")
	f.Add("address", "0.0.0.0:8080")
	f.Add("address", "[::1]:1")
	f.Add("config_json", `{"address":"0.0.0.0:9"}`)
	f.Add("config_b64", "eyJhZGRyZXNzIjoiMC4wLjAuMDo5In0=")
	f.Fuzz(func(t *testing.T, key, value string) {
		p, err := applier.ServicePort(lattice.LinkDefinition{Values: map[string]string{key: value}})
		if err != nil {
			if !errors.Is(err, httpserver.ErrLinkValues) && !errors.Is(err, httpserver.ErrUnreachable) {
				t.Fatalf("error wraps neither ErrLinkValues nor ErrUnreachable: %v", err)
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
