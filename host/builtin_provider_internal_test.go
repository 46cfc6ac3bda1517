package host

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

func TestBuiltinKeys(t *testing.T) {
	require.Equal(t, "VBWZ2AQZ6OSB2VGQBQ3ZVKQUD7ONDZUNC3E3T3QTMAXIG76BRYL55Q2H", BuiltinKey(BuiltinHTTPServer))
	require.Equal(t, "AB4SQB4GODKEC7DSO2IMH6VHA7WHB5NX7V5I4WER3ZJUXN45FJUDTDFP", builtinIssuer())
	require.NotEqual(t, BuiltinKey(BuiltinHTTPServer), BuiltinKey(BuiltinScheme+"other"))
	require.NoError(t, lattice.CheckPublicKey(lattice.PrefixService, BuiltinKey(BuiltinScheme+"other")))
}

func TestVersionRevision(t *testing.T) {
	for v, want := range map[string]int{"0.1.0": 100, "1.2.3": 10203, "v2.0.1": 20001, "1.0.0-rc1": 10000, "dev": 0, "1.2": 0, "1.100.0": 0, "": 0} {
		require.Equal(t, want, versionRevision(v), v)
	}
}

func TestValidateBuiltins(t *testing.T) {
	nop := func(context.Context, *BuiltinHost) (Builtin, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		ref  string
		p    BuiltinProvider
		want string
	}{
		{"ok", BuiltinHTTPServer, BuiltinProvider{ContractID: "wasmcloud:httpserver", New: nop}, ""},
		{"not builtin", "registry.example/http:1", BuiltinProvider{ContractID: "c", New: nop}, "want a reference wasmcloud+builtin://NAME"},
		{"no name", BuiltinScheme, BuiltinProvider{ContractID: "c", New: nop}, "want a reference"},
		{"no factory", BuiltinHTTPServer, BuiltinProvider{ContractID: "c"}, "no factory"},
		{"no contract", BuiltinHTTPServer, BuiltinProvider{New: nop}, "empty contract id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Builtins = map[string]BuiltinProvider{tc.ref: tc.p}
			err := cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
