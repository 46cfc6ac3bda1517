package oam

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds arbitrary documents to Parse. Nothing may panic; a manifest that parses is
// valid, and its canonical form and its YAML form read back to an equal manifest.
func FuzzParse(f *testing.F) {
	for _, path := range testdataFiles(f) {
		data, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, seed := range []string{
		head + echoComponent,
		"", "---\n", "a: b\n---\nc: d\n", "[1, 2]", "null", `{"apiVersion": 1}`,
		"a: &x [*x]\n", "a: &a {b: *a}\n", "<<: [{a: 1}, {b: 2}]\n", "a: \"\\ud83d\"\n",
		head + "    - name: p\n      type: capability\n      properties: {image: i, contract: c, config: {x: [.inf]}}\n",
		head + "    - name: a\n      type: actor\n      properties: {image: i}\n      traits: [{type: spreadscaler, properties: {instances: 1, replicas: 2, spread: [{name: s, weight: 0}]}}]\n",
		head + "    - name: a\n      type: actor\n      properties: {image: i}\n      traits: [{type: daemonscaler, properties: {replicas: 1, min_instances: 1, max_instances: 4}}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			require.Nil(t, m)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NoError(t, m.Validate())
		c, err := m.Canonical()
		require.NoError(t, err)
		back, err := Parse(c)
		require.NoError(t, err, "canonical form:\n%s", c)
		require.Equal(t, m, back)
		c2, err := back.Canonical()
		require.NoError(t, err)
		require.Equal(t, string(c), string(c2))

		var fromJSON Manifest
		require.NoError(t, json.Unmarshal(c, &fromJSON))
		require.Equal(t, m, &fromJSON)

		y, err := yaml.Marshal(m)
		require.NoError(t, err)
		back, err = Parse(y)
		require.NoError(t, err, "YAML form:\n%s", y)
		require.Equal(t, m, back)

		require.Equal(t, m, m.Clone())
		for i := range m.Spec.Components {
			comp := &m.Spec.Components[i]
			_ = comp.ConfigJSON()
			_, _ = comp.EffectiveScaler()
			_ = comp.LinkDefs()
			if _, p := comp.Scaler(); p != nil {
				got := p.SpreadReplicas()
				sum := 0
				for _, n := range got {
					require.GreaterOrEqual(t, n, 0)
					sum += n
				}
				if got != nil {
					require.Equal(t, p.Replicas, sum)
				}
			}
		}
	})
}
