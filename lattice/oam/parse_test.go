package oam

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// testdataFiles are the valid manifests under testdata, plus the repository's example.
func testdataFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	require.NoError(t, err)
	files = append(files, filepath.Join("..", "..", "examples", "echo.yaml"))
	require.GreaterOrEqual(t, len(files), 7)
	return files
}

func parseFile(t *testing.T, path string) *Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := Parse(data)
	require.NoError(t, err, path)
	return m
}

// TestParseTestdata: every valid manifest parses, and its canonical form, its YAML form and its
// plain json.Marshal form read back to an equal manifest.
func TestParseTestdata(t *testing.T) {
	for _, path := range testdataFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := parseFile(t, path)
			require.NoError(t, m.Validate())

			c1, err := m.Canonical()
			require.NoError(t, err)
			back, err := Parse(c1)
			require.NoError(t, err, "canonical form:\n%s", c1)
			require.Equal(t, m, back)
			c2, err := back.Canonical()
			require.NoError(t, err)
			require.Equal(t, string(c1), string(c2), "canonical form is stable")

			var fromJSON Manifest
			require.NoError(t, json.Unmarshal(c1, &fromJSON))
			require.Equal(t, m, &fromJSON, "encoding/json reads the canonical form too")
			plain, err := json.Marshal(m)
			require.NoError(t, err)
			back, err = Parse(plain)
			require.NoError(t, err)
			require.Equal(t, m, back)

			y, err := yaml.Marshal(m)
			require.NoError(t, err)
			back, err = Parse(y)
			require.NoError(t, err, "YAML form:\n%s", y)
			require.Equal(t, m, back)
		})
	}
}

func TestParseEcho(t *testing.T) {
	m := parseFile(t, filepath.Join("..", "..", "examples", "echo.yaml"))
	require.Equal(t, "echo", m.Metadata.Name)
	require.Equal(t, "v0.0.1", m.Version())
	require.Len(t, m.Spec.Components, 2)

	echo, ok := m.Component("echo")
	require.True(t, ok)
	require.Equal(t, TypeActor, echo.Type)
	require.Equal(t, "build/actors/echo_s.wasm", echo.Properties.Image)
	typ, sc := echo.Scaler()
	require.Equal(t, TraitSpreadScaler, typ)
	require.Equal(t, &ScalerProperties{Replicas: 1}, sc)
	require.Equal(t, []LinkProperties{{Target: "httpserver", Values: map[string]string{"address": "127.0.0.1:8080"}}}, echo.LinkDefs())

	http, ok := m.Component("httpserver")
	require.True(t, ok)
	require.Equal(t, Component{
		Name: "httpserver",
		Type: TypeCapability,
		Properties: Properties{
			Image:    "build/providers/httpserver.par.gz",
			Contract: "wasmcloud:httpserver",
		},
		Traits: []Trait{{Type: TraitSpreadScaler, Scaler: &ScalerProperties{Replicas: 1}}},
	}, *http)
	require.Equal(t, "default", http.LinkNameOrDefault())
}

func TestParseSpread(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "spread.yaml"))
	require.Equal(t, map[string]string{"team": "storefront"}, m.Metadata.Labels)
	inv, _ := m.Component("inventory")
	_, sc := inv.Scaler()
	require.Equal(t, &ScalerProperties{Replicas: 10, Spread: []Spread{
		{Name: "north", Requirements: map[string]string{"region": "eu-north", "tier": "2"}, Weight: ptr(70)},
		{Name: "south", Requirements: map[string]string{"region": "eu-south"}, Weight: ptr(30)},
	}}, sc)
	require.Equal(t, []int{7, 3}, sc.SpreadReplicas())
	// Numbers and booleans among link values are taken as written.
	require.Equal(t, map[string]string{"port": "8080", "keepalive": "true"}, inv.LinkDefs()[0].Values)

	sensors, _ := m.Component("sensors")
	_, sc = sensors.Scaler()
	require.Nil(t, sc.Spread[0].Weight)
	require.Equal(t, []int{1, 1}, sc.SpreadReplicas())

	j := parseFile(t, filepath.Join("testdata", "spread.json"))
	inv, _ = j.Component("inventory")
	require.Equal(t, "/api", inv.LinkDefs()[0].Values["path"], `JSON's \/ escape`)
	frontend, _ := j.Component("frontend")
	require.Equal(t, "default", frontend.Properties.LinkName)
}

// TestParseJSONThatYAMLRefuses: valid JSON that the YAML parser refuses is read all the same
// (by jsonNode). Should the YAML parser come to read one of these, its case here says so.
func TestParseJSONThatYAMLRefuses(t *testing.T) {
	longKey := strings.Repeat("k", 1100)
	for _, tc := range []struct {
		name, labels string
		want         map[string]string
	}{
		{"escaped slash", `{"path": "\/api"}`, map[string]string{"path": "/api"}},
		{"surrogate pair", `{"mood": "\ud83d\ude00"}`, map[string]string{"mood": "\U0001F600"}},
		{"key over 1024 characters", `{"` + longKey + `": "v"}`, map[string]string{longKey: "v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"apiVersion": "core.oam.dev/v1beta1", "kind": "Application",
"metadata": {"name": "app", "labels": ` + tc.labels + `},
"spec": {"components": [{"name": "a", "type": "actor", "properties": {"image": "example.com/a:1"}}]}}`
			var n yaml.Node
			require.Error(t, yaml.Unmarshal([]byte(doc), &n), "the YAML parser reads this now: is jsonNode still needed?")
			m, err := Parse([]byte(doc))
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Metadata.Labels)
		})
	}
}

func TestParseAnchors(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "anchors.yaml"))
	metrics, _ := m.Component("metrics")
	require.Equal(t, map[string]string{"address": "0.0.0.0:9091", "timeout": "30s"}, metrics.LinkDefs()[0].Values)
	api, _ := m.Component("api")
	_, a := api.Scaler()
	_, b := metrics.Scaler()
	require.Equal(t, a, b)
	require.NotSame(t, a, b, "an alias is read into a value of its own")
}

func TestInstancesAndReplicas(t *testing.T) {
	for _, tc := range []struct {
		name, props string
		want        int
		err         string // path: reason, when refused
		line        int
	}{
		{name: "replicas", props: "replicas: 3", want: 3},
		{name: "instances", props: "instances: 4", want: 4},
		{name: "both alike", props: "instances: 2\n            replicas: 2", want: 2},
		{name: "both differ", props: "instances: 2\n            replicas: 5", line: 14,
			err: "spec.components[0].traits[0].properties.instances: instances (2) and replicas (5) differ: give one of them"},
		{name: "neither", props: "spread: []", line: 13,
			err: "spec.components[0].traits[0].properties.replicas: replicas is required"},
		{name: "a string", props: `instances: "3"`, line: 14,
			err: `spec.components[0].traits[0].properties.instances: must be a whole number, not the string "3"`},
		{name: "negative", props: "instances: -1", line: 14,
			err: "spec.components[0].traits[0].properties.replicas: replicas must not be negative (got -1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + actorA + `      traits:
        - type: spreadscaler
          properties:
            ` + tc.props + "\n"
			m, err := Parse([]byte(doc))
			if tc.err != "" {
				fe := onlyFieldError(t, err)
				require.Equal(t, tc.line, fe.Line, fe.Error())
				require.Contains(t, fe.Path+": "+fe.Reason, tc.err)
				return
			}
			require.NoError(t, err)
			_, sc := m.Spec.Components[0].Scaler()
			require.Equal(t, tc.want, sc.Replicas)
			c, err := m.Canonical()
			require.NoError(t, err)
			require.Contains(t, string(c), `"replicas":`)
			require.NotContains(t, string(c), `"instances"`)
		})
	}
}

func TestConfig(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "config.yaml"))
	for _, tc := range []struct{ component, want string }{
		{"web", `{"tls": false, "timeout_ms": 500}`}, // a string is passed as it is
		{"lights", `{"brightness":80,"colors":["red","amber"],"schedule":{"off":null,"on":"07:00"}}`},
		{"notifier", `{"channel":"ops","retries":3}`},
	} {
		t.Run(tc.component, func(t *testing.T) {
			c, ok := m.Component(tc.component)
			require.True(t, ok)
			require.Equal(t, tc.want, c.ConfigJSON())
		})
	}
	e := parseFile(t, filepath.Join("testdata", "echo.yaml"))
	c, _ := e.Component("httpserver")
	require.Equal(t, "", c.ConfigJSON(), "no config")

	// Numbers YAML writes in ways JSON does not are turned into JSON numbers.
	doc := head + `    - name: p
      type: capability
      properties:
        image: example.com/p:1
        contract: x:y
        config: {hex: 0x1F, octal: 0o17, big: 123456789012345678901234567890, frac: .5, plain: 1e3, under: 1_000}
`
	m, err := Parse([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, `{"big":123456789012345678901234567890,"frac":0.5,"hex":31,"octal":15,"plain":1e3,"under":1000}`, m.Spec.Components[0].ConfigJSON())
}

func TestParseSyntaxError(t *testing.T) {
	doc := `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: app
spec:
  components:
    - name: a: b
`
	_, err := Parse([]byte(doc))
	require.EqualError(t, err, "line 7: mapping values are not allowed in this context")
	fe := onlyFieldError(t, err)
	require.Equal(t, FieldError{Line: 7, Reason: "mapping values are not allowed in this context"}, fe)

	_, err = Parse([]byte("apiVersion: core.oam.dev/v1beta1\nkind: @Application\n"))
	require.EqualError(t, err, "line 2: found character that cannot start any token")
}

func TestParseDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
	}{
		{"empty", "", "the manifest is empty"},
		{"only comments", "# nothing\n", "the manifest is empty"},
		{"two documents", head + echoComponent + "---\n" + head + echoComponent,
			"line 13: a second YAML document starts here: a manifest is one document"},
		{"not a mapping", "- a\n- b\n", "line 1: a manifest is a mapping (apiVersion, kind, metadata, spec), not a list"},
		{"control character", "a: b\x00", "control characters are not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.doc))
			require.Nil(t, m)
			require.ErrorContains(t, err, tc.err)
		})
	}
	// Aliases cannot make a small document expand without bound, nor loop.
	bomb := head + "    - name: p\n      type: capability\n      properties:\n        image: i\n        contract: c\n        config:\n" +
		"          a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf("          a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	_, err := Parse([]byte(bomb))
	require.ErrorContains(t, err, "the document expands to too many nodes through aliases")
	_, err = Parse([]byte(head + "    - name: p\n      type: capability\n      properties:\n        image: i\n        contract: c\n        config: &c {x: *c}\n"))
	require.ErrorContains(t, err, "is nested more than 100 levels deep")
	_, err = Parse([]byte("&r {<<: *r}\n"))
	require.ErrorContains(t, err, "merge keys (<<) are nested more than 10 deep")

	// A leading "---" and a trailing empty document are one document.
	_, err = Parse([]byte("---\n" + head + echoComponent + "---\n"))
	require.NoError(t, err)
}

func TestErrorsAs(t *testing.T) {
	_, err := Parse([]byte(head + "    - name: a\n      type: provider\n"))
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Errors, 2)
	var fe FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, FieldError{Path: "spec.components[0].properties.image", Line: 7, Reason: "image is required: an OCI reference or a file path"}, fe)
	require.Equal(t, strings.Join([]string{
		`spec.components[0].properties.image (line 7): image is required: an OCI reference or a file path`,
		`spec.components[0].type (line 8): unknown component type "provider" (known: actor, capability): a capability provider is of type capability`,
	}, "\n"), err.Error())
}

// head starts a manifest whose components begin on line 7.
const head = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: app
spec:
  components:
`

// echoComponent is one valid component of six lines.
const echoComponent = `    - name: echo
      type: actor
      properties:
        image: example.com/echo:1
      traits:
        - {type: spreadscaler, properties: {replicas: 1}}
`

func onlyFieldError(t *testing.T, err error) FieldError {
	t.Helper()
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
	require.Len(t, ve.Errors, 1, err.Error())
	return ve.Errors[0]
}

func ptr(i int) *int { return &i }

func TestMinMaxInstances(t *testing.T) {
	ptr := func(n int) *int { return &n }
	for _, tc := range []struct {
		name, props string
		min, max    *int
		err         string // path: reason, when refused
	}{
		{name: "neither", props: "replicas: 1"},
		{name: "both", props: "replicas: 1\n            min_instances: 0\n            max_instances: 8", min: ptr(0), max: ptr(8)},
		{name: "max only", props: "replicas: 2\n            max_instances: 4", max: ptr(4)},
		{name: "min above max", props: "replicas: 1\n            min_instances: 3\n            max_instances: 2",
			err: "spec.components[0].traits[0].properties.min_instances: min_instances (3) is above max_instances (2)"},
		{name: "max 0", props: "replicas: 1\n            max_instances: 0",
			err: "spec.components[0].traits[0].properties.max_instances: max_instances must be 1 to 65535 (got 0)"},
		{name: "min negative", props: "replicas: 1\n            min_instances: -1",
			err: "spec.components[0].traits[0].properties.min_instances: min_instances must be 0 to 65535 (got -1)"},
		{name: "a string", props: "replicas: 1\n            max_instances: many",
			err: `spec.components[0].traits[0].properties.max_instances: must be a whole number, not the string "many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + actorA + `      traits:
        - type: spreadscaler
          properties:
            ` + tc.props + "\n"
			m, err := Parse([]byte(doc))
			if tc.err != "" {
				fe := onlyFieldError(t, err)
				require.Contains(t, fe.Path+": "+fe.Reason, tc.err)
				return
			}
			require.NoError(t, err)
			_, sc := m.Spec.Components[0].Scaler()
			require.Equal(t, tc.min, sc.MinInstances)
			require.Equal(t, tc.max, sc.MaxInstances)
			c, err := m.Canonical()
			require.NoError(t, err)
			back, err := Parse(c)
			require.NoError(t, err)
			_, sc2 := back.Spec.Components[0].Scaler()
			require.Equal(t, sc, sc2, "the canonical form keeps them")
		})
	}
}

func TestMinMaxInstancesOnACapability(t *testing.T) {
	_, err := Parse([]byte(head + "    - name: p\n      type: capability\n      properties:\n        image: i\n        contract: c\n" +
		"      traits:\n        - type: spreadscaler\n          properties:\n            replicas: 1\n            max_instances: 2\n"))
	fe := onlyFieldError(t, err)
	require.Equal(t, "spec.components[0].traits[0].properties", fe.Path)
	require.Contains(t, fe.Reason, "min_instances and max_instances apply to actor components only")
}
