package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The apps value: manifests from the values in the ConfigMap <fullname>-apps, the user's
// ConfigMaps mounted as they are, one app directory each in TRELLIS_APP_DIR, and the owner always.
func TestApps(t *testing.T) {
	const owner = "name: TRELLIS_APP_OWNER\n              value: \"helm/demo\"\n"

	// Without apps only the owner is set: a host that has an owner and no app directory
	// undeploys that owner's apps, so removing the last app from the values undeploys it.
	def, err := template(t)
	require.NoError(t, err, def)
	require.Contains(t, def, owner)
	for _, unwanted := range []string{"TRELLIS_APP_DIR", "demo-trellis-apps", "checksum/apps", "/etc/trellis/apps"} {
		require.NotContains(t, def, unwanted)
	}

	out, err := template(t, "-f", "testdata/apps.values.yaml")
	require.NoError(t, err, out)
	cm := object(t, out, "ConfigMap")
	require.Contains(t, cm, "name: demo-trellis-apps\n")
	require.Contains(t, cm, "  echo.yaml: |")
	require.Contains(t, cm, "  kvcounter.yaml: |\n    # kvcounter, pasted as it is in Git")
	require.NotContains(t, cm, "team-apps", "the user's ConfigMaps are mounted, not copied")
	deploy := object(t, out, "Deployment")
	for _, want := range []string{
		"name: TRELLIS_APP_DIR\n              value: \"/etc/trellis/apps/values,/etc/trellis/apps/cm-team-apps,/etc/trellis/apps/cm-shared.apps\"\n",
		owner,
		"- name: apps\n              mountPath: /etc/trellis/apps/values\n              readOnly: true\n",
		"- name: apps-cm-0\n              mountPath: /etc/trellis/apps/cm-team-apps\n              readOnly: true\n",
		"- name: apps-cm-1\n              mountPath: /etc/trellis/apps/cm-shared.apps\n              readOnly: true\n",
		"- name: apps\n          configMap:\n            name: demo-trellis-apps\n",
		"- name: apps-cm-0\n          configMap:\n            name: team-apps\n        - name: apps-cm-1\n",
		"name: shared.apps\n            items:\n              - key: pinger.yaml\n                path: pinger.yaml\n              - key: ponger.json\n                path: ponger.json",
		"checksum/apps: ",
	} {
		require.Contains(t, deploy, want)
	}

	// Only ConfigMaps of the user's: no ConfigMap of the chart's, no checksum of it.
	refs, err := template(t, "--set", "apps[0].configMap=team-apps", "--set", "apps[1].configMap=more", "--set", "apps[1].key=a.yml")
	require.NoError(t, err, refs)
	require.NotContains(t, refs, "demo-trellis-apps")
	require.NotContains(t, refs, "checksum/apps")
	require.NotContains(t, refs, "/etc/trellis/apps/values")
	require.Contains(t, refs, "value: \"/etc/trellis/apps/cm-team-apps,/etc/trellis/apps/cm-more\"")
	require.Contains(t, refs, "name: more\n            items:\n              - key: a.yml\n                path: a.yml\n")
	require.NotContains(t, object(t, refs, "Deployment"), "name: team-apps\n            items:", "a ConfigMap without key is mounted whole")

	// appsOwner replaces helm/<release>, for releases of one name sharing a lattice.
	other, err := template(t, "--set", "appsOwner=team-a/demo")
	require.NoError(t, err, other)
	require.Contains(t, other, "name: TRELLIS_APP_OWNER\n              value: \"team-a/demo\"\n")
}

// The ConfigMap holds the manifests as they were given: a string byte for byte (comments, order,
// blank lines, tabs, trailing spaces, an indented first line), an object as the same object.
func TestAppsRoundTrip(t *testing.T) {
	const manifest = "# a comment,\ttabbed\napiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: kv\n\n  annotations: {version: \"1\"}   \nspec:\n  components: []\n\n"
	values, err := json.Marshal(map[string]any{"apps": []any{
		map[string]any{"manifest": manifest},
		map[string]any{"manifest": "   apiVersion: core.oam.dev/v1beta1\n   kind: Application\n   metadata: {name: indented}\n   spec: {}"},
		map[string]any{"apiVersion": "core.oam.dev/v1beta1", "kind": "Application",
			"metadata": map[string]any{"name": "echo", "annotations": map[string]any{"version": "0.1"}},
			"spec": map[string]any{"components": []any{map[string]any{"name": "echo", "type": "actor",
				"properties": map[string]any{"image": "r:5000/echo:1"},
				"traits": []any{map[string]any{"type": "linkdef", "properties": map[string]any{"target": "http",
					"values": map[string]any{"address": "0.0.0.0:8080", "port": "8080", "on": "yes"}}}}}}}},
	}})
	require.NoError(t, err)
	// JSON is YAML: a values file helm reads.
	f := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(f, values, 0o644))
	// The rendered ConfigMap as helm reads it back, as JSON.
	got := renderExtra(t, `{{ include "trellis.validate" . }}{{ toJson (fromYaml (include "trellis.apps.data" .)) }}`, "-f", f)
	var data map[string]string
	require.NoError(t, json.Unmarshal([]byte(got), &data), got)
	require.Equal(t, manifest, data["kv.yaml"])
	require.Equal(t, "   apiVersion: core.oam.dev/v1beta1\n   kind: Application\n   metadata: {name: indented}\n   spec: {}", data["indented.yaml"])
	// The object: the rendered YAML parses to what the values gave.
	parsed := renderExtra(t, `{{ toJson (dict "given" (index .Values.apps 2) "rendered" (fromYaml (get (fromYaml (include "trellis.apps.data" .)) "echo.yaml"))) }}`, "-f", f)
	var pair struct{ Given, Rendered map[string]any }
	require.NoError(t, json.Unmarshal([]byte(parsed), &pair), parsed)
	require.NotEmpty(t, pair.Given)
	require.Equal(t, pair.Given, pair.Rendered)
	require.Contains(t, parsed, `"port":"8080"`, "a quoted number stays a string")
}

// A change to a manifest in the values changes the pods' checksum/apps annotation, so an upgrade
// rolls the pods and they apply it; other changes do not.
func TestAppsChecksum(t *testing.T) {
	base, err := os.ReadFile("testdata/apps.values.yaml")
	require.NoError(t, err)
	checksum := func(values string, args ...string) string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "values.yaml")
		require.NoError(t, os.WriteFile(f, []byte(values), 0o644))
		out, err := template(t, append([]string{"-f", f}, args...)...)
		require.NoError(t, err, out)
		m := regexp.MustCompile(`checksum/apps: ([0-9a-f]{64})\n`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		return m[1]
	}
	orig := checksum(string(base))
	require.Equal(t, orig, checksum(string(base)), "the checksum is stable")

	for name, change := range map[string][2]string{
		"object manifest": {"                replicas: 2\n", "                replicas: 3\n"},
		"string manifest": {`version: "1.0"`, `version: "1.1"`},
	} {
		require.Equal(t, 1, strings.Count(string(base), change[0]), name)
		require.NotEqual(t, orig, checksum(strings.Replace(string(base), change[0], change[1], 1)), name)
	}
	// Not changed by what is not in the ConfigMap: the ConfigMaps of the user's (the pod spec
	// changes with them anyway) or other values.
	require.Equal(t, orig, checksum(strings.Replace(string(base), "key: pinger.yaml", "key: pinger2.yaml", 1)))
	require.Equal(t, orig, checksum(string(base), "--set", "image.tag=0.2.0", "--set", "host.lattice=other"))
}

// The example values files of the chart's README and of docs/kubernetes.md render: the echo app
// with its three components.
func TestDocsAppsExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	require.NoError(t, err)
	guide, err := os.ReadFile("../../docs/kubernetes.md")
	require.NoError(t, err)
	block := func(doc []byte, start, end string) string {
		t.Helper()
		_, rest, ok := strings.Cut(string(doc), start)
		require.True(t, ok, "no %q", start)
		body, _, ok := strings.Cut(rest, end)
		require.True(t, ok, "no %q after %q", end, start)
		return body
	}
	for name, values := range map[string]string{
		"README.md":          block(readme, "```yaml\nimage:\n  repository: REGISTRY/trellis\n", "```\n"),
		"docs/kubernetes.md": strings.ReplaceAll(block(guide, "cat > apps-values.yaml <<EOF\n", "EOF\n"), "$REGISTRY", "registry.example:5000"),
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "values.yaml")
			require.NoError(t, os.WriteFile(f, []byte(values), 0o644))
			out, err := template(t, "-f", f)
			require.NoError(t, err, out)
			cm := object(t, out, "ConfigMap")
			require.Contains(t, cm, "name: demo-trellis-apps\n")
			for _, want := range []string{
				"echo.yaml: |", "name: echo\n", "image: REGISTRY/actors/echo:TAG", "type: spreadscaler", "replicas: 2",
				"target: httpserver", "address: 0.0.0.0:8080", "image: REGISTRY/providers/httpserver:TAG",
				"contract: wasmcloud:httpserver", "type: daemonscaler", "image: REGISTRY/providers/applier:TAG",
				"contract: cosmonic:kubernetes_applier",
			} {
				if name != "README.md" {
					want = strings.NewReplacer("REGISTRY", "registry.example:5000", "TAG", "0.1.0").Replace(want)
				}
				require.Contains(t, cm, want)
			}
			require.Contains(t, out, `wasmcloud.dev/route-to: "true"`)
			require.Contains(t, out, "kind: RoleBinding")
			lint, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", namespace, "-f", f)
			require.NoError(t, err, lint)
		})
	}
}
