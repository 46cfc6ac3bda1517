package lattice_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseOCIRef(t *testing.T) {
	tests := []struct {
		in   string
		want lattice.OCIRef
		str  string
	}{
		{"127.0.0.1:5000/echo:0.1.0", lattice.OCIRef{Registry: "127.0.0.1:5000", Repository: "echo", Tag: "0.1.0"}, ""},
		{"wasmcloud.azurecr.io/httpserver:0.16.3", lattice.OCIRef{Registry: "wasmcloud.azurecr.io", Repository: "httpserver", Tag: "0.16.3"}, ""},
		{"ghcr.io/org/team/echo_actor-x:v1", lattice.OCIRef{Registry: "ghcr.io", Repository: "org/team/echo_actor-x", Tag: "v1"}, ""},
		{"localhost/echo:1", lattice.OCIRef{Registry: "localhost", Repository: "echo", Tag: "1"}, ""},
		{"localhost:5000/a__b/c.d:1", lattice.OCIRef{Registry: "localhost:5000", Repository: "a__b/c.d", Tag: "1"}, ""},
		{"[::1]:5000/echo:1", lattice.OCIRef{Registry: "[::1]:5000", Repository: "echo", Tag: "1"}, ""},
		{"oci://127.0.0.1:5000/echo:0.1.0", lattice.OCIRef{Registry: "127.0.0.1:5000", Repository: "echo", Tag: "0.1.0"}, "127.0.0.1:5000/echo:0.1.0"},
		{"reg.example/echo", lattice.OCIRef{Registry: "reg.example", Repository: "echo", Tag: "latest", TagDefaulted: true}, "reg.example/echo:latest"},
		{"reg.example/echo:latest", lattice.OCIRef{Registry: "reg.example", Repository: "echo", Tag: "latest"}, ""},
		{"reg.example/echo@" + testDigest, lattice.OCIRef{Registry: "reg.example", Repository: "echo", Digest: testDigest}, ""},
		{"reg.example/echo:0.1@" + testDigest, lattice.OCIRef{Registry: "reg.example", Repository: "echo", Tag: "0.1", Digest: testDigest}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := lattice.ParseOCIRef(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			str := tt.str
			if str == "" {
				str = tt.in
			}
			require.Equal(t, str, got.String())
		})
	}
}

func TestParseOCIRefLatestAndReference(t *testing.T) {
	for in, latest := range map[string]bool{
		"r.io/a":                      true,
		"r.io/a:latest":               true,
		"r.io/a:0.1":                  false,
		"r.io/a@" + testDigest:        false,
		"r.io/a:latest@" + testDigest: false,
	} {
		r, err := lattice.ParseOCIRef(in)
		require.NoError(t, err, in)
		require.Equal(t, latest, r.Latest(), in)
	}
	r, _ := lattice.ParseOCIRef("r.io/a:1@" + testDigest)
	require.Equal(t, testDigest, r.Reference(), "a digest wins over the tag")
	r, _ = lattice.ParseOCIRef("r.io/a:1")
	require.Equal(t, "1", r.Reference())
}

func TestParseOCIRefErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"oci://", "empty"},
		{"echo:0.1.0", "no registry host"},
		{"echo_s.wasm", "no registry host"},
		{"library/echo:0.1.0", `"library" is not a registry host`},
		{"reg.example/", "no repository"},
		{"reg.example/:1", "no repository"},
		{"reg.example/Echo:1", "must be lowercase"},
		{"reg.example/echo-:1", "repository component"},
		{"reg.example/a//b:1", "repository component"},
		{"reg.example/echo:", "tag"},
		{"reg.example/echo:-x", "tag"},
		{"reg.example/echo:" + strings.Repeat("a", 129), "tag"},
		{"reg.example/echo@sha256:abc", "digest"},
		{"reg.example/echo@md5:0123456789abcdef0123456789abcdef", "algorithm"},
		{"reg.example/echo@sha256:" + strings.Repeat("A", 64), "digest"},
		{"reg.example/echo@", "digest"},
		{"reg.example:99999/echo:1", "port"},
		{"reg_x.example/echo:1", "registry"},
		{"-reg.example/echo:1", "registry"},
		{"reg.example/echo 1", "space"},
		{"reg.example/" + strings.Repeat("a", 260) + ":1", "characters long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := lattice.ParseOCIRef(tt.in)
			require.Error(t, err)
			require.True(t, errors.Is(err, lattice.ErrBadOCIRef))
			require.Contains(t, err.Error(), tt.want)
			require.Contains(t, err.Error(), tt.in, "the error names the reference")
		})
	}
}

// FuzzParseOCIRef: nothing panics, and an accepted reference prints to a canonical form that
// parses back to the same reference.
func FuzzParseOCIRef(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:5000/echo:0.1.0", "ghcr.io/org/echo@" + testDigest, "oci://localhost/a", "reg.example/a:1@" + testDigest,
		"[::1]:5000/echo:1", "echo:1", "a/b", "r.io/A:1", "r.io/a:b:c", "r.io/a@@", "r.io:0/a", ":/@", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := lattice.ParseOCIRef(s)
		if err != nil {
			if !errors.Is(err, lattice.ErrBadOCIRef) {
				t.Fatalf("error does not wrap ErrBadOCIRef: %v", err)
			}
			return
		}
		if r.Registry == "" || r.Repository == "" || r.Reference() == "" {
			t.Fatalf("%q parsed to an incomplete reference %+v", s, r)
		}
		again, err := lattice.ParseOCIRef(r.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, r.String(), err)
		}
		again.TagDefaulted = r.TagDefaulted
		if again != r {
			t.Fatalf("%q → %+v → %q → %+v", s, r, r.String(), again)
		}
	})
}
