package oam

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScaler(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "spread.yaml"))
	for _, tc := range []struct {
		component      string
		typ, effective string
		replicas       int
	}{
		{component: "inventory", typ: TraitSpreadScaler, effective: TraitSpreadScaler, replicas: 10},
		{component: "sensors", typ: TraitSpreadScaler, effective: TraitSpreadScaler, replicas: 2},
		// A capability without traits: no scaler in the manifest, wadm's implied one.
		{component: "frontend", typ: "", effective: TraitSpreadScaler, replicas: 1},
	} {
		t.Run(tc.component, func(t *testing.T) {
			c, ok := m.Component(tc.component)
			require.True(t, ok)
			typ, p := c.Scaler()
			require.Equal(t, tc.typ, typ)
			require.Equal(t, tc.typ == "", p == nil)
			typ, p = c.EffectiveScaler()
			require.Equal(t, tc.effective, typ)
			require.Equal(t, tc.replicas, p.Replicas)
		})
	}
	_, ok := m.Component("nope")
	require.False(t, ok)

	// An actor without a scaler runs nothing, in wadm too.
	actor := Component{Name: "a", Type: TypeActor, Traits: []Trait{{Type: TraitLinkDef, Link: &LinkProperties{Target: "b"}}}}
	typ, p := actor.EffectiveScaler()
	require.Equal(t, "", typ)
	require.Nil(t, p)

	d := parseFile(t, filepath.Join("testdata", "instances.yaml"))
	http, _ := d.Component("http")
	typ, p = http.Scaler()
	require.Equal(t, TraitDaemonScaler, typ)
	require.Equal(t, &ScalerProperties{Replicas: 1, Spread: []Spread{{Name: "edge", Requirements: map[string]string{"role": "edge"}}}}, p)
}

func TestLinkDefs(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "kvcounter.yaml"))
	kv, _ := m.Component("kvcounter")
	require.Equal(t, []LinkProperties{
		{Target: "redis", Values: map[string]string{"URL": "redis://127.0.0.1:6379/"}},
		{Target: "httpserver", Values: map[string]string{"ADDRESS": "127.0.0.1:8081"}},
	}, kv.LinkDefs())
	redis, _ := m.Component("redis")
	require.Nil(t, redis.LinkDefs())
	require.Equal(t, "default", redis.LinkNameOrDefault())

	c := parseFile(t, filepath.Join("testdata", "config.yaml"))
	lights, _ := c.Component("lights")
	require.Equal(t, "hall", lights.LinkNameOrDefault())
}

// TestSpreadReplicas follows wadm's compute_spread, with its own test cases.
func TestSpreadReplicas(t *testing.T) {
	w := func(ws ...int) []Spread {
		out := make([]Spread, len(ws))
		for i, x := range ws {
			out[i].Name = string(rune('a' + i))
			if x != 0 {
				out[i].Weight = ptr(x)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		replicas int
		spread   []Spread
		want     []int
	}{
		{"no spread", 12, nil, nil},
		{"one spread", 1, w(100), []int{1}},
		{"even", 10, w(100, 100), []int{5, 5}},
		{"odd, clean weights", 7, w(30, 40), []int{3, 4}},
		{"odd, equal weights", 7, w(100, 100), []int{4, 3}},
		{"no weights", 10, w(0, 0), []int{5, 5}},
		{"no weights, odd", 3, w(0, 0), []int{2, 1}},
		{"percent", 10, w(80, 20), []int{8, 2}},
		{"percent, rounded", 4, w(80, 20), []int{4, 0}},
		{"weights not adding to 100", 5, w(40, 40), []int{3, 2}},
		{"wadm's complex case", 103, w(42, 3, 37, 384), []int{10, 0, 8, 85}},
		{"zero replicas", 0, w(1, 2), []int{0, 0}},
		{"huge", 1 << 62, w(MaxWeight, MaxWeight), []int{1 << 61, 1 << 61}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &ScalerProperties{Replicas: tc.replicas, Spread: tc.spread}
			got := p.SpreadReplicas()
			require.Equal(t, tc.want, got)
			sum := 0
			for _, n := range got {
				sum += n
			}
			if got != nil {
				require.Equal(t, tc.replicas, sum)
			}
		})
	}
}

func TestClone(t *testing.T) {
	for _, path := range testdataFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := parseFile(t, path)
			c := m.Clone()
			require.Equal(t, m, c)
			before, err := m.Canonical()
			require.NoError(t, err)

			// Change everything reachable in the clone; the original stays as it was.
			c.Metadata.Name += "x"
			if c.Metadata.Annotations != nil {
				c.Metadata.Annotations["version"] = "changed"
			}
			for i := range c.Spec.Components {
				comp := &c.Spec.Components[i]
				if len(comp.Properties.Config) > 0 {
					comp.Properties.Config[0] = ' '
				}
				for _, tr := range comp.Traits {
					if tr.Scaler != nil {
						tr.Scaler.Replicas++
						for k := range tr.Scaler.Spread {
							tr.Scaler.Spread[k].Name += "x"
							if tr.Scaler.Spread[k].Weight != nil {
								*tr.Scaler.Spread[k].Weight++
							}
							if tr.Scaler.Spread[k].Requirements != nil {
								tr.Scaler.Spread[k].Requirements["x"] = "y"
							}
						}
					}
					if tr.Link != nil {
						tr.Link.Target += "x"
						if tr.Link.Values != nil {
							tr.Link.Values["x"] = "y"
						}
					}
				}
			}
			after, err := m.Canonical()
			require.NoError(t, err)
			require.Equal(t, string(before), string(after))
		})
	}
	require.Nil(t, (*Manifest)(nil).Clone())
}

func TestCanonical(t *testing.T) {
	// The same manifest written two ways gives the same bytes.
	a, err := Parse([]byte(head + `    - name: p
      type: capability
      properties: {image: "example.com/p:1", contract: "x:y", config: {b: 2, a: "<&>"}}
      traits: [{type: spreadscaler, properties: {replicas: 1}}]
`))
	require.NoError(t, err)
	b, err := Parse([]byte(`{"kind": "Application", "apiVersion": "core.oam.dev/v1beta1",
"spec": {"components": [{"traits": [{"properties": {"instances": 1}, "type": "spreadscaler"}],
  "properties": {"config": {"a": "<&>", "b": 2}, "contract": "x:y", "image": "example.com/p:1"},
  "type": "capability", "name": "p"}]},
"metadata": {"name": "app"}}`))
	require.NoError(t, err)
	ca, err := a.Canonical()
	require.NoError(t, err)
	cb, err := b.Canonical()
	require.NoError(t, err)
	require.Equal(t, string(ca), string(cb))
	require.Equal(t, `{"apiVersion":"core.oam.dev/v1beta1","kind":"Application","metadata":{"name":"app"},`+
		`"spec":{"components":[{"name":"p","type":"capability","properties":{"image":"example.com/p:1","contract":"x:y",`+
		`"config":{"a":"<&>","b":2}},"traits":[{"type":"spreadscaler","properties":{"replicas":1}}]}]}}`, string(ca))

	// A config built in Go is sorted too.
	m := a.Clone()
	m.Spec.Components[0].Properties.Config = json.RawMessage(`{ "b": 2, "a": "<&>" }`)
	cm, err := m.Canonical()
	require.NoError(t, err)
	require.Equal(t, string(ca), string(cm))
}

func TestTraitMarshalling(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   Trait
		json string
	}{
		{"spreadscaler", Trait{Type: TraitSpreadScaler, Scaler: &ScalerProperties{Replicas: 2, Spread: []Spread{{Name: "a", Requirements: map[string]string{"k": "v"}, Weight: ptr(3)}}}},
			`{"type":"spreadscaler","properties":{"replicas":2,"spread":[{"name":"a","requirements":{"k":"v"},"weight":3}]}}`},
		{"daemonscaler", Trait{Type: TraitDaemonScaler, Scaler: &ScalerProperties{Replicas: 1}},
			`{"type":"daemonscaler","properties":{"replicas":1}}`},
		{"linkdef", Trait{Type: TraitLinkDef, Link: &LinkProperties{Target: "http", Values: map[string]string{"address": "0.0.0.0:80"}}},
			`{"type":"linkdef","properties":{"target":"http","values":{"address":"0.0.0.0:80"}}}`},
		{"unknown", Trait{Type: "custom"}, `{"type":"custom","properties":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.tr)
			require.NoError(t, err)
			require.JSONEq(t, tc.json, string(data))
			var back Trait
			require.NoError(t, json.Unmarshal(data, &back))
			require.Equal(t, tc.tr, back)
		})
	}

	var tr Trait
	err := json.Unmarshal([]byte(`{"type":"spreadscaler","properties":{"instances":2,"replicas":3}}`), &tr)
	require.EqualError(t, err, "properties.instances (line 1): instances (2) and replicas (3) differ: give one of them")
	err = json.Unmarshal([]byte("{\"type\": \"linkdef\",\n\"properties\": {\n  \"target\": [\"a\"]}}"), &tr)
	require.ErrorContains(t, err, "properties.target (line 3): must be a string, not a list")
	require.NoError(t, json.Unmarshal([]byte(`{"type":"spreadscaler","properties":{"instances":4}}`), &tr))
	require.Equal(t, Trait{Type: TraitSpreadScaler, Scaler: &ScalerProperties{Replicas: 4}}, tr)
}
