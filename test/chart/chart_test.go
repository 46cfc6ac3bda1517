// Package chart_test checks the Helm chart in charts/trellis with the real helm binary: golden
// files of `helm template` for sets of values, `helm lint --strict`, the values the chart must
// refuse, and that every value is documented in the chart's README.
//
// helm is $HELM, else helm on PATH, else hack/tools.sh's cache (~/.cache/trellis/tools/bin/helm).
// Without it the tests fail under CI=true and skip elsewhere. After a deliberate change to the
// chart, `go test ./test/chart -update` rewrites the golden files; review the diff.
package chart_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	chartDir    = "../../charts/trellis"
	kubeVersion = "1.31.0" // fixed, so the output does not depend on the helm build
	release     = "demo"
	namespace   = "app"
)

// helm returns the helm binary, or skips (fails in CI) saying how to get one.
func helm(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	cache := os.Getenv("TRELLIS_TOOLS_DIR")
	if cache == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(dir, "trellis", "tools")
		}
	}
	if p := filepath.Join(cache, "bin", "helm"); cache != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "helm not found: install it with hack/tools.sh helm (or set HELM to a helm v3 binary)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	// No repositories, plugins or caches of the user's are read.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func template(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}, args...)...)
}

// The sets of values with golden output: testdata/NAME.values.yaml (none for default) renders to
// testdata/NAME.golden.yaml.
var goldenCases = []struct {
	name, values string
}{
	{name: "default"},
	// enableApplierSupport, an external NATS server (URL and credentials from Secrets), custom
	// pod labels, two replicas with the cluster key and registry credentials from existing Secrets.
	{name: "applier-external-nats", values: "testdata/applier-external-nats.values.yaml"},
	// Secrets made by the chart (cluster seed and issuers, registry user and password), NATS on a
	// persistent volume, host labels and the other optional settings.
	{name: "chart-secrets-persistence", values: "testdata/chart-secrets-persistence.values.yaml"},
}

func TestTemplateGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.values != "" {
				args = append(args, "-f", tc.values)
			}
			got, err := template(t, args...)
			require.NoError(t, err, got)
			got = generatedKey.ReplaceAllString(got, "(generated ed25519 key)")
			golden := filepath.Join("testdata", tc.name+".golden.yaml")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "no golden file: run go test ./test/chart -update")
			require.Equal(t, string(want), got, "helm template differs from %s (go test ./test/chart -update rewrites it)", golden)
		})
	}
}

// generatedKey is a cluster key the chart makes; it differs on every render.
var generatedKey = regexp.MustCompile(`-----BEGIN PRIVATE KEY-----\\n[A-Za-z0-9+/=]+\\n-----END PRIVATE KEY-----\\n`)

// The golden output of each case must hold the objects the case is about; the golden files could
// otherwise be rewritten with a regression in them.
func TestTemplateContents(t *testing.T) {
	def, err := template(t)
	require.NoError(t, err, def)
	for _, want := range []string{
		"kind: Deployment", "kind: StatefulSet", "name: demo-trellis-nats", "kind: ConfigMap",
		"path: /api/livez", "path: /api/readyz", "containerPort: 4000",
		"value: \"nats://demo-trellis-nats:4222\"", "automountServiceAccountToken: false",
		"emptyDir: {}", "store_dir: /data", "enableServiceLinks: false",
	} {
		require.Contains(t, def, want)
	}
	for _, unwanted := range []string{"kind: Role", "kind: ServiceAccount", "kind: PersistentVolumeClaim", "volumeClaimTemplates", "wasmcloud.dev/route-to"} {
		require.NotContains(t, def, unwanted)
	}
	// Without a seed the chart makes a cluster key for the hosts to share, a new one each time.
	secret := object(t, def, "Secret")
	require.Contains(t, secret, "name: demo-trellis-cluster")
	key := generatedKey.FindString(secret)
	require.NotEmpty(t, key, secret)
	require.Contains(t, def, "name: TRELLIS_CLUSTER_SEED")
	again, err := template(t)
	require.NoError(t, err, again)
	require.NotContains(t, again, key, "a cluster key must not be fixed in the chart")

	app, err := template(t, "-f", "testdata/applier-external-nats.values.yaml")
	require.NoError(t, err, app)
	for _, want := range []string{
		"kind: ServiceAccount", "kind: Role", "kind: RoleBinding", `resources: ["services"]`,
		"automountServiceAccountToken: true", "serviceAccountName: demo-trellis",
		`wasmcloud.dev/route-to: "true"`, "replicas: 2", "name: TRELLIS_NATS_CREDS",
		"secretName: nats-creds", "name: lattice-nats",
	} {
		require.Contains(t, app, want)
	}
	for _, unwanted := range []string{"kind: StatefulSet", "demo-trellis-nats", "kind: ClusterRole"} {
		require.NotContains(t, app, unwanted)
	}
	// The Role is limited to Services in the release namespace.
	role := object(t, app, "Role")
	require.Contains(t, role, "namespace: app")
	require.Equal(t, 1, strings.Count(role, "resources:"), role)
}

// object returns the rendered object of the given kind (the first one).
func object(t *testing.T, out, kind string) string {
	t.Helper()
	for _, doc := range strings.Split(out, "\n---\n") {
		if strings.Contains(doc, "\nkind: "+kind+"\n") {
			return doc
		}
	}
	t.Fatalf("no %s in the output", kind)
	return ""
}

func TestLint(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir, "--namespace", namespace}
			if tc.values != "" {
				args = append(args, "-f", tc.values)
			}
			out, err := runHelm(t, args...)
			require.NoError(t, err, out)
			require.Contains(t, out, "0 chart(s) failed")
			require.NotContains(t, out, "[WARNING]")
			require.NotContains(t, out, "[ERROR]")
		})
	}
}

// Values the chart refuses, each with an error that says what to change.
func TestTemplateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"seed that is not a cluster seed", []string{"cluster.seed=SAAB"}, "cluster.seed must be a cluster seed (SC…, from `trellis keys gen cluster`) or a PEM ed25519 private key"},
		{"issuer that is not a cluster key", []string{"cluster.seed=SCAB", "cluster.issuers={ABCD}"}, `"ABCD" is not a cluster public key`},
		{"existing secret and inline seed", []string{"cluster.existingSecret=keys", "cluster.seed=SCAB"}, "leave cluster.seed and cluster.issuers empty"},
		{"external NATS while deploying one", []string{"nats.external.url=nats://x:4222"}, "set nats.enabled=false"},
		{"no NATS at all", []string{"nats.enabled=false"}, "give the external server as nats.external.url"},
		{"two external URLs", []string{"nats.enabled=false", "nats.external.url=nats://x:4222", "nats.external.urlSecret=s"}, "not both"},
		{"registry credentials without a registry", []string{"registry.username=u", "registry.password=p"}, "give registry.url"},
		{"existing registry secret and inline credentials", []string{"registry.url=r:5000", "registry.existingSecret=s", "registry.password=p"}, "leave registry.username and registry.password empty"},
		{"unknown log level", []string{"host.logLevel=verbose"}, "host.logLevel must be"},
		{"unknown log format", []string{"host.logFormat=xml"}, "host.logFormat must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := template(t, args...)
			require.Error(t, err, out)
			require.Contains(t, out, tc.want)
		})
	}
}

// notes renders NOTES.txt: helm template skips it and helm install --dry-run needs a cluster, so
// a copy of the chart renders it as a ConfigMap, with the release namespace and values given.
func notes(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "trellis")
	require.NoError(t, os.CopyFS(dir, os.DirFS(chartDir)))
	src, err := os.ReadFile(filepath.Join(chartDir, "templates", "NOTES.txt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "_notes_test.tpl"),
		[]byte("{{- define \"notes-test\" -}}\n"+string(src)+"\n{{- end }}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "notes-test.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n{{ include \"notes-test\" . | indent 4 }}\n"), 0o644))
	out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "--kube-version", kubeVersion,
		"--show-only", "templates/notes-test.yaml"}, args...)...)
	require.NoError(t, err, out)
	return out
}

// NOTES.txt tells the user the next commands.
func TestNotes(t *testing.T) {
	out := notes(t, "--set", "enableApplierSupport=true", "--set-string", `customLabels.wasmcloud\.dev/route-to=true`)
	for _, want := range []string{
		"kubectl -n app rollout status deployment/demo-trellis",
		"kubectl -n app port-forward deployment/demo-trellis 4000",
		"kubectl -n app port-forward svc/demo-trellis-nats 4222:4222",
		"trellis ctl get hosts",
		"trellis ctl start provider REGISTRY/providers/httpserver:TAG",
		"trellis ctl start provider REGISTRY/providers/applier:TAG",
		"trellis ctl start actor REGISTRY/actors/echo:TAG",
		"wasmcloud:httpserver ADDRESS=0.0.0.0:8080",
		"kubectl -n app port-forward svc/<the actor id, lowercased> 8080",
		"curl localhost:8080",
		"owned by this release's ServiceAccount demo-trellis",
		"The hosts share the cluster key in Secret demo-trellis-cluster",
		"kubectl -n app get secret demo-trellis-cluster -o jsonpath='{.data.clusterSeed}' | base64 -d > cluster.key",
		"trellis ctl call --cluster-seed cluster.key M…",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "WARNING")
	require.NotContains(t, notes(t, "--set", "cluster.existingSecret=keys"), "cluster.key", "the user's own Secret is the user's to read")

	out = notes(t, "--set", "enableApplierSupport=true")
	require.Contains(t, out, `WARNING: customLabels lacks wasmcloud.dev/route-to: "true"`)

	out = notes(t, "--set", "nats.enabled=false", "--set", "nats.external.url=nats://nats.nats:4222")
	require.NotContains(t, out, "port-forward svc/demo-trellis-nats")
	require.Contains(t, out, "kubectl -n app port-forward deployment/demo-trellis 8080")
}

var (
	keyLine   = regexp.MustCompile(`^( *)([A-Za-z][A-Za-z0-9]*):(.*)$`)
	readmeRow = regexp.MustCompile("^\\| `([A-Za-z0-9.]+)` \\|")
)

// valuePaths returns the dotted path of every key in values.yaml, and the ones with a "# --"
// description right above them.
func valuePaths(t *testing.T) (all, described []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	defer f.Close()
	type level struct {
		indent int
		key    string
	}
	var stack []level
	doc := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			if strings.HasPrefix(trimmed, "# --") {
				doc = true
			}
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			if trimmed != "" && !strings.HasPrefix(trimmed, "-") {
				doc = false
			}
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, level{indent, m[2]})
		var parts []string
		for _, l := range stack {
			parts = append(parts, l.key)
		}
		path := strings.Join(parts, ".")
		all = append(all, path)
		if doc {
			described = append(described, path)
		}
		doc = false
	}
	require.NoError(t, sc.Err())
	return all, described
}

// Every value is described in values.yaml and in the README's tables, and the README names no
// value that does not exist.
func TestValuesDocumented(t *testing.T) {
	all, described := valuePaths(t)
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	require.NoError(t, err)
	var rows []string
	for _, line := range strings.Split(string(readme), "\n") {
		if m := readmeRow.FindStringSubmatch(line); m != nil {
			rows = append(rows, m[1])
		}
	}
	related := func(a, b string) bool { return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".") }
	for _, p := range all {
		// A key is covered when it, a parent or a child is described (resources.requests.cpu by
		// resources; image by image.repository).
		require.True(t, slices.ContainsFunc(described, func(d string) bool { return related(p, d) }),
			"values.yaml: %s has no \"# --\" description (nor has a parent or child)", p)
		require.True(t, slices.ContainsFunc(rows, func(r string) bool { return related(p, r) }),
			"README.md: no row for %s", p)
	}
	for _, d := range described {
		require.Contains(t, rows, d, "README.md: no row for %s, which values.yaml describes", d)
	}
	for _, r := range rows {
		require.Contains(t, all, r, "README.md documents %s, which values.yaml does not have", r)
	}
}

// The default NATS image tag is the nats-server version go.mod requires, the one `make images`
// builds and tags.
func TestNATSTagMatchesGoMod(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`github\.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(gomod)
	require.NotNil(t, m, "go.mod requires no github.com/nats-io/nats-server/v2")
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(values), "    tag: \""+string(m[1])+"\"", "nats.image.tag in values.yaml must be %s, the nats-server version in go.mod (and update the README)", m[1])
}
