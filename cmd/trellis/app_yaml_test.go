package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

// FuzzAppGetYAML checks that what `app get` prints reads back as the manifest it printed.
func FuzzAppGetYAML(f *testing.F) {
	f.Add(testManifest("echo", "v1", ""))
	f.Add(testManifest("echo", "1.0", ": odd # \"quoted\" 'text'\\n"))
	f.Add(strings.Replace(testManifest("echo", "true", ""), "contract: wasmcloud:httpserver",
		"contract: wasmcloud:httpserver\n        config: {\"nested\": {\"list\": [1, \"2\", null, true]}, \"s\": \"multi\\nline\"}", 1))
	f.Add(`{"apiVersion":"core.oam.dev/v1beta1","kind":"Application","metadata":{"name":"j","annotations":{"version":"007"}},` +
		`"spec":{"components":[{"name":"a","type":"actor","properties":{"image":"r/a:1"},"traits":[{"type":"daemonscaler","properties":{"replicas":1,"spread":[{"name":"s","requirements":{"zone":"null"}}]}}]}]}}`)
	f.Fuzz(func(t *testing.T, data string) {
		m, err := oam.Parse([]byte(data))
		if err != nil {
			return
		}
		y, err := manifestYAML(m)
		require.NoError(t, err)
		back, err := oam.Parse(y)
		require.NoError(t, err, "%s", y)
		want, err := m.Canonical()
		require.NoError(t, err)
		got, err := back.Canonical()
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s", y)
	})
}
