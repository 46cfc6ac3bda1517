package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("link value", []string{"ADDRESS=0.0.0.0:8080", "empty=", "url=redis://h/?a=b"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"ADDRESS": "0.0.0.0:8080", "empty": "", "url": "redis://h/?a=b"}, got)

	for _, tc := range []struct {
		arg, want string
	}{
		{"ADDRESS", `link value "ADDRESS": want KEY=VALUE`},
		{"=x", `link value "=x": empty key before '='`},
		{"a b=c", `key "a b" contains white space`},
	} {
		_, err := parseKeyValues("link value", []string{"ok=1", tc.arg})
		require.Error(t, err, tc.arg)
		require.Contains(t, err.Error(), tc.want, tc.arg)
	}
	_, err = parseKeyValues("label", []string{"a=1", "a=2"})
	require.ErrorContains(t, err, `key "a" given twice`)
}

func TestHostLabels(t *testing.T) {
	got, err := hostLabels([]string{"HOST_ZONE=eu", "HOST_=x", "PATH=/bin", "HOST_App=a"}, []string{"zone=us", "tier=web"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"zone": "us", "app": "a", "tier": "web"}, got)
	_, err = hostLabels(nil, []string{"nolabel"})
	require.ErrorContains(t, err, `label "nolabel": want KEY=VALUE`)
}

func FuzzParseKeyValues(f *testing.F) {
	f.Add("ADDRESS=0.0.0.0:8080")
	f.Add("=")
	f.Add("a==b")
	f.Add("k\x00=v")
	f.Fuzz(func(t *testing.T, arg string) {
		m, err := parseKeyValues("value", []string{arg})
		if err != nil {
			if !strings.Contains(err.Error(), "value ") {
				t.Fatalf("error does not name the argument kind: %v", err)
			}
			return
		}
		if len(m) != 1 {
			t.Fatalf("%q gave %d values", arg, len(m))
		}
		for k, v := range m {
			if k == "" || k+"="+v != arg {
				t.Fatalf("%q parsed as %q=%q", arg, k, v)
			}
		}
	})
}
