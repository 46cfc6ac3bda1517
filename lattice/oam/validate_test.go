package oam

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// httpCap is a valid capability component to link to.
const httpCap = `    - name: httpserver
      type: capability
      properties:
        image: example.com/httpserver:1
        contract: wasmcloud:httpserver
`

// actorA is an actor component up to its image (the component's fourth line); a case goes on
// with more properties or with its traits.
const actorA = `    - name: a
      type: actor
      properties:
        image: example.com/a:1
`

// marker ends the line a case expects its error on.
const marker = "# <-"

func markedLine(t *testing.T, doc string) int {
	t.Helper()
	i := strings.Index(doc, marker)
	require.GreaterOrEqual(t, i, 0, "the case marks no line")
	return strings.Count(doc[:i], "\n") + 1
}

// TestParseInvalid: each manifest has one problem, reported at its field path and line.
func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("a", 129)
	for _, tc := range []struct {
		name   string
		doc    string
		path   string
		reason string
		line   int // when the document has no marker (JSON)
	}{
		{
			name:   "wrong apiVersion",
			doc:    "apiVersion: core.oam.dev/v1alpha2 " + marker + "\nkind: Application\nmetadata:\n  name: app\nspec:\n  components:\n" + echoComponent,
			path:   "apiVersion",
			reason: `unsupported apiVersion "core.oam.dev/v1alpha2": want "core.oam.dev/v1beta1"`,
		},
		{
			name:   "wrong kind",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Deployment " + marker + "\nmetadata:\n  name: app\nspec:\n  components:\n" + echoComponent,
			path:   "kind",
			reason: `unsupported kind "Deployment": want "Application"`,
		},
		{
			name:   "missing kind",
			doc:    "apiVersion: core.oam.dev/v1beta1 " + marker + "\nmetadata:\n  name: app\nspec:\n  components:\n" + echoComponent,
			path:   "kind",
			reason: `kind is required (want "Application")`,
		},
		{
			name:   "missing name",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: " + marker + "\n  annotations:\n    version: v1\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.name",
			reason: "metadata.name is required",
		},
		{
			name:   "name with a space",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: my app " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.name",
			reason: `name "my app" may hold only letters, digits, '_' and '-', and starts with a letter or digit (it is part of JetStream KV keys)`,
		},
		{
			name:   "name with a dot",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: my.app " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.name",
			reason: `name "my.app" may hold only letters`,
		},
		{
			name:   "name starting with a dash",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: -app " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.name",
			reason: "starts with a letter or digit",
		},
		{
			name:   "name too long",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: " + long + " " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.name",
			reason: "name is 129 characters long; at most 128",
		},
		{
			name: "version too long",
			doc: "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app\n  annotations:\n    version: v" +
				strings.Repeat("1", 256) + " " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.annotations.version",
			reason: "version is 257 characters long; at most 256",
		},
		{
			name:   "version latest",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app\n  annotations:\n    version: latest " + marker + "\nspec:\n  components:\n" + echoComponent,
			path:   "metadata.annotations.version",
			reason: `version "latest" is reserved`,
		},
		{
			name:   "no components",
			doc:    "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app\nspec:\n  components: [] " + marker + "\n",
			path:   "spec.components",
			reason: "an application needs at least one component",
		},
		{
			name:   "no spec",
			doc:    "apiVersion: core.oam.dev/v1beta1 " + marker + "\nkind: Application\nmetadata:\n  name: app\n",
			path:   "spec.components",
			reason: "an application needs at least one component",
		},
		{
			name: "unknown component type",
			doc: head + `    - name: a
      type: wasm ` + marker + `
      properties:
        image: example.com/a:1
`,
			path:   "spec.components[0].type",
			reason: `unknown component type "wasm" (known: actor, capability)`,
		},
		{
			name: "missing component name",
			doc: head + `    - type: actor ` + marker + `
      properties:
        image: example.com/a:1
`,
			path:   "spec.components[0].name",
			reason: "component name is required",
		},
		{
			name: "missing image",
			doc: head + `    - name: a
      type: actor
      properties: {} ` + marker + `
`,
			path:   "spec.components[0].properties.image",
			reason: "image is required",
		},
		{
			name: "image with whitespace",
			doc: head + `    - name: a
      type: actor
      properties:
        image: "example.com/a:1 --debug" ` + marker + `
`,
			path:   "spec.components[0].properties.image",
			reason: `image "example.com/a:1 --debug" contains whitespace`,
		},
		{
			name: "capability without contract",
			doc: head + `    - name: p
      type: capability
      properties: ` + marker + `
        image: example.com/p:1
`,
			path:   "spec.components[0].properties.contract",
			reason: "a capability needs a contract, such as wasmcloud:httpserver",
		},
		{
			name: "contract on an actor",
			doc: head + actorA + `        contract: wasmcloud:httpserver ` + marker + `
`,
			path:   "spec.components[0].properties.contract",
			reason: "contract applies to capability components only",
		},
		{
			name: "config on an actor",
			doc: head + actorA + `        config: {a: 1} ` + marker + `
`,
			path:   "spec.components[0].properties.config",
			reason: "config applies to capability components only",
		},
		{
			name: "config a list",
			doc: head + `    - name: p
      type: capability
      properties:
        image: example.com/p:1
        contract: x:y
        config: [a, b] ` + marker + `
`,
			path:   "spec.components[0].properties.config",
			reason: "must be a mapping or a string, not a list",
		},
		{
			name: "config a number",
			doc: head + `    - name: p
      type: capability
      properties:
        image: example.com/p:1
        contract: x:y
        config: 42 ` + marker + `
`,
			path:   "spec.components[0].properties.config",
			reason: "must be a mapping or a string, not the number 42",
		},
		{
			name: "config with a NaN",
			doc: head + `    - name: p
      type: capability
      properties:
        image: example.com/p:1
        contract: x:y
        config:
          ratio: .nan ` + marker + `
`,
			path:   "spec.components[0].properties.config.ratio",
			reason: "the number .nan cannot be written as JSON",
		},
		{
			name:   "duplicate component names",
			doc:    head + echoComponent + strings.Replace(strings.Replace(echoComponent, "- name: echo", "- name: echo "+marker, 1), "echo:1", "echo:2", 1),
			path:   "spec.components[1].name",
			reason: `duplicate component name "echo" (also spec.components[0])`,
		},
		{
			name: "one actor image twice",
			doc: head + echoComponent + strings.Replace(strings.Replace(echoComponent, "name: echo", "name: echo2", 1),
				"image: example.com/echo:1", "image: example.com/echo:1 "+marker, 1),
			path:   "spec.components[1].properties.image",
			reason: `actor image "example.com/echo:1" is already component "echo"`,
		},
		{
			name: "one provider twice with one link name",
			doc: head + httpCap + `    - name: httpserver2
      type: capability
      properties:
        image: example.com/httpserver:1 ` + marker + `
        contract: wasmcloud:httpserver
        link_name: default
`,
			path:   "spec.components[1].properties.image",
			reason: `capability image "example.com/httpserver:1" with link name "default" is already component "httpserver"`,
		},
		{
			name: "unknown trait type",
			doc: head + actorA + `      traits:
        - type: customscaler ` + marker + `
          properties:
            replicas: 4
            clouds: [aws]
`,
			path:   "spec.components[0].traits[0].type",
			reason: `unknown trait type "customscaler" (known: spreadscaler, daemonscaler, linkdef)`,
		},
		{
			name: "two scalers",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 1
        - type: daemonscaler ` + marker + `
          properties:
            replicas: 1
`,
			path:   "spec.components[0].traits[1].type",
			reason: "more than one scaler trait: traits[0] is already a spreadscaler",
		},
		{
			name: "scaler without properties",
			doc: head + actorA + `      traits:
        - type: spreadscaler ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties",
			reason: "a spreadscaler needs properties: replicas, and spread if any",
		},
		{
			name: "negative replicas",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: -2 ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.replicas",
			reason: "replicas must not be negative (got -2)",
		},
		{
			name: "replicas a fraction",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 1.5 ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.replicas",
			reason: "must be a whole number, not the number 1.5",
		},
		{
			name: "misspelt field",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 1
            spreads: [] ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.spreads",
			reason: `unknown field "spreads" (known: replicas, instances, spread, min_instances, max_instances)`,
		},
		{
			name: "duplicate key",
			doc: head + actorA + `        image: example.com/a:2 ` + marker + `
`,
			path:   "spec.components[0].properties.image",
			reason: `duplicate key "image" (first at line 10)`,
		},
		{
			name: "traits a mapping",
			doc: head + actorA + `      traits: ` + marker + `
        type: spreadscaler
`,
			path:   "spec.components[0].traits",
			reason: "must be a list, not a mapping",
		},
		{
			name: "duplicate spread names",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 2
            spread:
              - name: east
                requirements: {zone: east}
              - name: east ` + marker + `
                requirements: {zone: west}
`,
			path:   "spec.components[0].traits[0].properties.spread[1].name",
			reason: `duplicate spread name "east" (also spread[0])`,
		},
		{
			name: "spread without name",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 2
            spread:
              - requirements: {zone: east} ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.spread[0].name",
			reason: "spread name is required",
		},
		{
			name: "zero weight",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 2
            spread:
              - name: east
                weight: 100
              - name: west
                weight: 0 ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.spread[1].weight",
			reason: "weight must be positive (got 0)",
		},
		{
			name: "negative weight in a daemonscaler",
			doc: head + actorA + `      traits:
        - type: daemonscaler
          properties:
            replicas: 1
            spread:
              - name: east
                weight: -5 ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.spread[0].weight",
			reason: "weight must be positive (got -5)",
		},
		{
			name: "huge weight",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 1
            spread:
              - name: east
                weight: 5000000 ` + marker + `
`,
			path:   "spec.components[0].traits[0].properties.spread[0].weight",
			reason: "weight 5000000 is more than 1000000",
		},
		{
			name: "weights given for some spreads only",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 3
            spread:
              - name: east
                weight: 80
              - name: west ` + marker + `
                requirements: {zone: west}
`,
			path:   "spec.components[0].traits[0].properties.spread[1].weight",
			reason: `spread "west" has no weight while spread "east" has one: give every spread a weight, or none`,
		},
		{
			name: "empty requirement key",
			doc: head + actorA + `      traits:
        - type: spreadscaler
          properties:
            replicas: 1
            spread:
              - name: east
                requirements:
                  "": east ` + marker + `
`,
			path:   `spec.components[0].traits[0].properties.spread[0].requirements[""]`,
			reason: "requirement key is empty",
		},
		{
			name: "linkdef on a capability",
			doc: head + httpCap + `      traits:
        - type: linkdef ` + marker + `
          properties:
            target: httpserver
`,
			path:   "spec.components[0].traits[0].type",
			reason: "linkdef applies to actor components only",
		},
		{
			name: "linkdef to a missing component",
			doc: head + httpCap + actorA + `      traits:
        - type: linkdef
          properties:
            target: httpsrv ` + marker + `
`,
			path:   "spec.components[1].traits[0].properties.target",
			reason: `"httpsrv" is not a capability component of this app (capabilities: httpserver)`,
		},
		{
			name: "linkdef to an actor",
			doc: head + echoComponent + actorA + `      traits:
        - type: linkdef
          properties:
            target: echo ` + marker + `
`,
			path:   "spec.components[1].traits[0].properties.target",
			reason: `"echo" is not a capability component of this app (capabilities: none): it is of type actor`,
		},
		{
			name: "linkdef without target",
			doc: head + httpCap + actorA + `      traits:
        - type: linkdef
          properties: ` + marker + `
            values: {port: "80"}
`,
			path:   "spec.components[1].traits[0].properties.target",
			reason: "target is required: the name of a capability component of this app",
		},
		{
			name: "two linkdefs to one target",
			doc: head + httpCap + actorA + `      traits:
        - type: linkdef
          properties:
            target: httpserver
            values: {address: "0.0.0.0:8080"}
        - type: linkdef
          properties:
            target: httpserver ` + marker + `
            values: {address: "0.0.0.0:8081"}
`,
			path:   "spec.components[1].traits[1].properties.target",
			reason: `this actor already links to "httpserver" (traits[0])`,
		},
		{
			name: "two linkdefs to one contract and link name",
			doc: head + httpCap + `    - name: httpserver2
      type: capability
      properties:
        image: example.com/other-httpserver:1
        contract: wasmcloud:httpserver
    - name: a
      type: actor
      properties:
        image: example.com/a:1
      traits:
        - type: linkdef
          properties:
            target: httpserver
        - type: linkdef
          properties:
            target: httpserver2 ` + marker + `
`,
			path:   "spec.components[2].traits[1].properties.target",
			reason: `this actor already links to contract wasmcloud:httpserver with link name "default" (traits[0])`,
		},
		{
			name: "null link value",
			doc: head + httpCap + actorA + `      traits:
        - type: linkdef
          properties:
            target: httpserver
            values:
              address: ` + marker + `
`,
			path:   "spec.components[1].traits[0].properties.values.address",
			reason: `is null: give a string ("" for an empty one)`,
		},
		{
			name: "list as link value",
			doc: head + httpCap + actorA + `      traits:
        - type: linkdef
          properties:
            target: httpserver
            values:
              address: [a, b] ` + marker + `
`,
			path:   "spec.components[1].traits[0].properties.values.address",
			reason: "must be a string, not a list",
		},
		{
			name: "JSON",
			doc: `{
  "apiVersion": "core.oam.dev/v1beta1",
  "kind": "Application",
  "metadata": {"name": "app"},
  "spec": {"components": [
    {"name": "a", "type": "actor", "properties": {"image": "example.com/a:1"},
     "traits": [{"type": "linkdef", "properties": {"target": "nowhere"}}]}
  ]}
}`,
			path:   "spec.components[0].traits[0].properties.target",
			reason: `"nowhere" is not a capability component of this app (capabilities: none)`,
			line:   7,
		},
		{
			name:   "JSON duplicate key",
			doc:    "{\"apiVersion\": \"core.oam.dev/v1beta1\",\n\"kind\": \"Application\",\n\"kind\": \"Application\"}",
			path:   "kind",
			reason: `duplicate key "kind" (first at line 2)`,
			line:   3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.line
			if line == 0 {
				line = markedLine(t, tc.doc)
			}
			m, err := Parse([]byte(tc.doc))
			require.Nil(t, m)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
			var found *FieldError
			for i := range ve.Errors {
				if ve.Errors[i].Path == tc.path {
					found = &ve.Errors[i]
				}
			}
			require.NotNil(t, found, "no error at %s in:\n%s", tc.path, err)
			require.Equal(t, line, found.Line, found.Error())
			require.Contains(t, found.Reason, tc.reason)
			if !strings.HasPrefix(tc.name, "JSON duplicate") && tc.name != "no spec" {
				require.Len(t, ve.Errors, 1, "one problem, one error:\n%s", err)
			}
		})
	}
}

// TestValidateBuiltInGo: a manifest built in Go is checked alike, with no lines.
func TestValidateBuiltInGo(t *testing.T) {
	m := &Manifest{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "app"},
		Spec: Spec{Components: []Component{
			{Name: "a", Type: TypeActor, Properties: Properties{Image: "example.com/a:1"}, Traits: []Trait{
				{Type: TraitSpreadScaler, Scaler: &ScalerProperties{Replicas: -1}},
				{Type: TraitLinkDef, Link: &LinkProperties{Target: "b"}},
			}},
			{Name: "b", Type: TypeCapability, Properties: Properties{Image: "example.com/b:1", Contract: "x:y", Config: []byte(`[1]`)}},
		}},
	}
	err := m.Validate()
	require.EqualError(t, err, strings.Join([]string{
		"spec.components[0].traits[0].properties.replicas: replicas must not be negative (got -1)",
		"spec.components[1].properties.config: config must be a JSON object or a JSON string",
	}, "\n"))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	for _, fe := range ve.Errors {
		require.Zero(t, fe.Line)
	}

	m.Spec.Components[0].Traits[0].Scaler.Replicas = 2
	m.Spec.Components[1].Properties.Config = []byte(`{"b": 1, "a": [true]}`)
	require.NoError(t, m.Validate())
	require.Equal(t, `{"b":1,"a":[true]}`, m.Spec.Components[1].ConfigJSON())

	m.Spec.Components[0].Traits = append(m.Spec.Components[0].Traits, Trait{Type: TraitDaemonScaler})
	require.EqualError(t, m.Validate(), strings.Join([]string{
		"spec.components[0].traits[2].type: more than one scaler trait: traits[0] is already a spreadscaler",
		"spec.components[0].traits[2].properties: a daemonscaler needs properties: replicas, and spread if any",
	}, "\n"))
}

func TestFieldErrorString(t *testing.T) {
	for _, tc := range []struct {
		fe   FieldError
		want string
	}{
		{FieldError{Path: "kind", Line: 2, Reason: "r"}, "kind (line 2): r"},
		{FieldError{Path: "kind", Reason: "r"}, "kind: r"},
		{FieldError{Line: 7, Reason: "r"}, "line 7: r"},
		{FieldError{Reason: "r"}, "r"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.fe.Error())
		})
	}
}

func TestPaths(t *testing.T) {
	require.Equal(t, "a", fieldPath("", "a"))
	require.Equal(t, "a.b", fieldPath("a", "b"))
	require.Equal(t, `a["x.y"]`, fieldPath("a", "x.y"))
	require.Equal(t, `a[""]`, fieldPath("a", ""))
	require.Equal(t, "a[3]", indexPath("a", 3))
	for _, p := range []string{"a.b", "a[3]", `a["x[\"y"]`, `a["x.y"]`} {
		require.Equal(t, "a", parentPath(p), p)
	}
	require.Equal(t, "", parentPath("a"))
	require.True(t, under("a.b.c", "a.b"))
	require.True(t, under("a.b[1]", "a.b"))
	require.False(t, under("a.bc", "a.b"))
}
