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
	// Declarative apps: a manifest as an object (the README's echo app), one as a string, a whole
	// ConfigMap of the user's and two keys of another.
	{name: "apps", values: "testdata/apps.values.yaml"},
	// The security switches: NATS TLS, another lattice and JetStream domain, user names and a
	// password of the user's, NATS clients by label and namespace, the dashboard token from a
	// Secret of the user's, provider issuers.
	{name: "security", values: "testdata/security.values.yaml"},
	// A NATS cluster (three servers, routes, persistent volumes, required anti-affinity) that is
	// also a leaf node of two hubs.
	{name: "cluster", values: "testdata/cluster.values.yaml"},
	// Observability: metrics on another port with a ServiceMonitor, a PodDisruptionBudget by
	// percentage, an autoscaler on CPU and on the requests in flight.
	{name: "observability", values: "testdata/observability.values.yaml"},
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
			got = generated(got)
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

// What else differs on every render: passwords and the dashboard token the chart makes (32
// letters and digits; the route password in the routes' URLs too), bcrypt hashes (a new salt
// each time) and the checksum of the NATS configuration that holds them.
var (
	generatedSecret   = regexp.MustCompile(`(password|token|trellis-route): "?[A-Za-z0-9]{32}("|@)`)
	generatedHash     = regexp.MustCompile(`\$2a\$10\$[./A-Za-z0-9]{53}`)
	generatedChecksum = regexp.MustCompile(`checksum/config: [0-9a-f]{64}`)
)

func generated(out string) string {
	out = generatedKey.ReplaceAllString(out, "(generated ed25519 key)")
	out = generatedSecret.ReplaceAllStringFunc(out, func(m string) string {
		if strings.HasPrefix(m, "trellis-route:") {
			return "trellis-route:(generated)@"
		}
		return generatedSecret.ReplaceAllString(m, `$1: "(generated)"`)
	})
	out = generatedHash.ReplaceAllString(out, "(bcrypt hash)")
	return generatedChecksum.ReplaceAllString(out, "checksum/config: (of the configuration)")
}

// The golden output of each case must hold the objects the case is about; the golden files could
// otherwise be rewritten with a regression in them.
func TestTemplateContents(t *testing.T) {
	def, err := template(t)
	require.NoError(t, err, def)
	for _, want := range []string{
		"kind: Deployment", "kind: StatefulSet", "name: demo-trellis-nats", "kind: NetworkPolicy",
		"name: demo-trellis-nats-config", "name: demo-trellis-nats-host", "name: demo-trellis-nats-operator",
		"name: demo-trellis-dashboard", "name: TRELLIS_DASHBOARD_TOKEN", "name: TRELLIS_NATS_USER", "name: TRELLIS_NATS_PASSWORD",
		"path: /api/livez", "path: /api/readyz", "containerPort: 4000",
		"value: \"nats://demo-trellis-nats:4222\"", "automountServiceAccountToken: false",
		"emptyDir: {}", "store_dir: /data", "enableServiceLinks: false",
		"name: TRELLIS_METRICS_ADDR", "containerPort: 9090", "targetPort: metrics", "kind: PodDisruptionBudget",
		"replicas: 1",
	} {
		require.Contains(t, def, want)
	}
	for _, unwanted := range []string{"kind: ServiceMonitor", "kind: HorizontalPodAutoscaler"} {
		require.NotContains(t, def, unwanted)
	}
	obs, err := template(t, "-f", "testdata/observability.values.yaml")
	require.NoError(t, err, obs)
	for _, want := range []string{"kind: ServiceMonitor", "release: \"prometheus\"", "port: metrics", "interval: 15s",
		"kind: HorizontalPodAutoscaler", "averageUtilization: 70", "name: trellis_httpserver_requests_in_flight",
		"averageValue: \"20\"", "maxUnavailable: 50%", "containerPort: 9100", `value: ":9100"`} {
		require.Contains(t, obs, want)
	}
	require.NotRegexp(t, `(?m)^  replicas:`, object(t, obs, "Deployment"), "the autoscaler owns the replica count")
	noMetrics, err := template(t, "--set", "metrics.enabled=false")
	require.NoError(t, err, noMetrics)
	require.NotContains(t, noMetrics, "TRELLIS_METRICS_ADDR")
	require.NotContains(t, noMetrics, "name: metrics")
	for _, unwanted := range []string{"kind: Role", "kind: ServiceAccount", "kind: PersistentVolumeClaim", "volumeClaimTemplates", "wasmcloud.dev/route-to", "kind: ConfigMap", "no_auth_user", "TRELLIS_NATS_TLS_CA", "tls://"} {
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
	require.NotContains(t, def, "TRELLIS_LINK_ACCOUNT")

	// The reconciler's link account comes from a Secret.
	signed, err := template(t, "--set", "host.linkIssuers={ABC}", "--set", "host.linkAccountSecret=link-account")
	require.NoError(t, err, signed)
	require.Regexp(t, `name: TRELLIS_LINK_ACCOUNT\s+valueFrom:\s+secretKeyRef:\s+name: link-account\s+key: seed`, signed)
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

// Values the chart refuses, each with an error that says what to change. values, when given, is
// a values file's content.
func TestTemplateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    []string
		want   string
		values string
	}{
		{"metrics on the dashboard's port", []string{"metrics.port=4000"}, "metrics.port and dashboard.port must differ", ""},
		{"service monitor without metrics", []string{"metrics.enabled=false", "metrics.serviceMonitor.enabled=true"}, "a ServiceMonitor needs the metrics port", ""},
		{"autoscaler on nothing", []string{"autoscaling.enabled=true", "autoscaling.targetCPUUtilizationPercentage=0"}, "give the HPA something to scale on", ""},
		{"autoscaler range upside down", []string{"autoscaling.enabled=true", "autoscaling.minReplicas=3", "autoscaling.maxReplicas=2"}, "autoscaling.maxReplicas must not be below", ""},
		{"in-flight autoscaling without metrics", []string{"autoscaling.enabled=true", "autoscaling.inFlight.enabled=true", "metrics.enabled=false"}, "the in-flight metric is served on the metrics port", ""},
		{"seed that is not a cluster seed", []string{"cluster.seed=SAAB"}, "cluster.seed must be a cluster seed (SC…, from `trellis keys gen cluster`) or a PEM ed25519 private key", ""},
		{"issuer that is not a cluster key", []string{"cluster.seed=SCAB", "cluster.issuers={ABCD}"}, `"ABCD" is not a cluster public key`, ""},
		{"existing secret and inline seed", []string{"cluster.existingSecret=keys", "cluster.seed=SCAB"}, "leave cluster.seed and cluster.issuers empty", ""},
		{"external NATS while deploying one", []string{"nats.external.url=nats://x:4222"}, "set nats.enabled=false", ""},
		{"no NATS at all", []string{"nats.enabled=false"}, "give the external server as nats.external.url", ""},
		{"two external URLs", []string{"nats.enabled=false", "nats.external.url=nats://x:4222", "nats.external.urlSecret=s"}, "not both", ""},
		{"registry credentials without a registry", []string{"registry.username=u", "registry.password=p"}, "give registry.url", ""},
		{"existing registry secret and inline credentials", []string{"registry.url=r:5000", "registry.existingSecret=s", "registry.password=p"}, "leave registry.username and registry.password empty", ""},
		{"unknown log level", []string{"host.logLevel=verbose"}, "host.logLevel must be", ""},
		{"TLS without a certificate", []string{"nats.tls.enabled=true"}, "give nats.tls.secretName, a Secret with tls.crt and tls.key", ""},
		{"a certificate without TLS", []string{"nats.tls.secretName=c"}, "set nats.tls.enabled=true", ""},
		{"TLS for an external server", []string{"nats.enabled=false", "nats.external.url=tls://x:4222", "nats.tls.enabled=true", "nats.tls.secretName=c"}, "nats.tls.* is for the chart's NATS server", ""},
		{"one user name for both", []string{"nats.auth.operator.user=trellis-host"}, "nats.auth.host.user and nats.auth.operator.user must differ", ""},
		{"user name with a space", []string{"nats.auth.host.user=a b"}, `nats.auth.host.user "a b": a user name has letters`, ""},
		{"short password", []string{"nats.auth.operator.password=short"}, "nats.auth.operator.password is shorter than 16 characters", ""},
		{"password without auth", []string{"nats.auth.enabled=false", "nats.auth.host.password=0123456789abcdefgh"}, "nats.auth.enabled is false: the passwords in nats.auth would not be used", ""},
		{"short dashboard token", []string{"dashboard.token.value=abc"}, "dashboard.token.value is shorter than 16 characters", ""},
		{"dashboard token twice", []string{"dashboard.token.value=0123456789abcdefgh", "dashboard.token.existingSecret=s"}, "not both", ""},
		{"provider issuer that is no account", []string{"host.providerIssuers={CAB}"}, `host.providerIssuers: "CAB" is not an account public key`, ""},
		{"unknown log format", []string{"host.logFormat=xml"}, "host.logFormat must be", ""},
		{"unknown update strategy", []string{"updateStrategy.type=OnDelete"}, "updateStrategy.type must be RollingUpdate or Recreate", ""},
		{"rolling update that replaces no pod", []string{"updateStrategy.rollingUpdate.maxSurge=0"}, "maxSurge and maxUnavailable cannot both be 0", ""},
		{"NATS cluster without the chart's NATS", []string{"nats.enabled=false", "nats.external.url=nats://x:4222", "nats.cluster.enabled=true"}, "nats.cluster is for the chart's NATS servers", ""},
		{"NATS cluster of two", []string{"nats.cluster.enabled=true", "nats.cluster.replicas=2"}, "nats.cluster.replicas 2: a NATS cluster needs 3 servers or more", ""},
		{"NATS cluster of no number", []string{"nats.cluster.enabled=true", "nats.cluster.replicas=three"}, "nats.cluster.replicas three: a NATS cluster needs 3 servers or more", ""},
		{"unknown anti-affinity", []string{"nats.cluster.enabled=true", "nats.cluster.antiAffinity=soft"}, `nats.cluster.antiAffinity "soft": give preferred`, ""},
		{"disruption budget of every server", []string{"nats.cluster.enabled=true", "nats.cluster.maxUnavailable=3"}, "nats.cluster.maxUnavailable 3: give a number of pods from 1 to replicas-1", ""},
		{"short route password", []string{"nats.cluster.enabled=true", "nats.cluster.routePassword=short"}, "nats.cluster.routePassword: give 16 characters or more", ""},
		{"route password unfit for a URL", []string{"nats.cluster.enabled=true", "nats.cluster.routePassword=0123456789abcdef@x"}, "nats.cluster.routePassword: give 16 characters or more", ""},
		{"route password without auth", []string{"nats.cluster.enabled=true", "nats.auth.enabled=false", "nats.cluster.routePassword=0123456789abcdefgh"}, "nats.cluster.routePassword is set but nats.auth.enabled is false", ""},
		{"leaf node without a domain", nil, "nats.leafnode.remotes is set: give nats.jetstream.domain",
			"nats: {leafnode: {remotes: [{url: \"tls://hub:7422\"}]}}"},
		{"leaf node without the hub's domain for the hosts", nil, "nats.leafnode.remotes is set: give host.jsDomain, the hub's JetStream domain",
			"nats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://hub:7422\"}]}}"},
		{"leaf node hosts on the leaf's domain", nil, `host.jsDomain "edge" is the leaf's own domain`,
			"host: {jsDomain: edge}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://hub:7422\"}]}}"},
		{"leaf node of an external server", nil, "nats.leafnode.remotes is set but nats.enabled is false",
			"nats: {enabled: false, external: {url: \"nats://x:4222\"}, jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://hub:7422\"}]}}"},
		{"leaf node remotes not a list", nil, "nats.leafnode.remotes must be a list",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: {url: \"tls://hub:7422\"}}}"},
		{"leaf node remote that is a string", nil, "nats.leafnode.remotes[0] is a string: each remote is {url: URL",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [\"tls://hub:7422\"]}}"},
		{"leaf node remote without a URL", nil, "nats.leafnode.remotes[0]: give url, the hub's leaf node URL",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{credentialsSecret: hub}]}}"},
		{"leaf node remote with url and urls", nil, "nats.leafnode.remotes[0]: give url or urls, not both",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://a:7422\", urls: [\"tls://b:7422\"]}]}}"},
		{"leaf node remote with another key", nil, "nats.leafnode.remotes[0]: a remote takes url (or urls), credentialsSecret and credentialsKey, not account",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://a:7422\", account: A}]}}"},
		{"leaf node URL of another scheme", nil, `nats.leafnode.remotes[0]: "https://hub:7422" is not a leaf node URL`,
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"https://hub:7422\"}]}}"},
		{"leaf node URL with a password", nil, `nats.leafnode.remotes[0]: "tls://u:p@hub:7422" is not a leaf node URL`,
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://u:p@hub:7422\"}]}}"},
		{"leaf node credentials that are no Secret name", nil, "nats.leafnode.remotes[0].credentialsSecret must be the name of a Secret",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://hub:7422\", credentialsSecret: Hub_Creds}]}}"},
		{"leaf node credentials key without a Secret", nil, "nats.leafnode.remotes[0].credentialsKey is set without credentialsSecret",
			"host: {jsDomain: hub}\nnats: {jetstream: {domain: edge}, leafnode: {remotes: [{url: \"tls://hub:7422\", credentialsKey: a.creds}]}}"},
		{"apps not a list", nil, "apps must be a list; each item is an Application manifest", "apps: {echo: {}}"},
		{"app that is a string", nil, "apps[0] is a string: each item of apps is an Application manifest (apiVersion, kind, metadata.name, spec), {manifest: <the manifest as a YAML string>} or {configMap: NAME, key: KEY}",
			"apps: [echo]"},
		{"app of no known form", nil, "apps[0] (with image, name) is none of the forms of an apps item",
			"apps: [{name: echo, image: r/echo:1}]"},
		{"manifest without a name", nil, "apps[0]: the manifest has no metadata.name, the app's name",
			"apps: [{apiVersion: core.oam.dev/v1beta1, kind: Application, metadata: {annotations: {version: v1}}, spec: {components: []}}]"},
		{"manifest without metadata", nil, "apps[0]: the manifest has no metadata.name",
			"apps: [{apiVersion: core.oam.dev/v1beta1, kind: Application, spec: {components: []}}]"},
		{"manifest of another kind", nil, "apps[0]: an app manifest has apiVersion: core.oam.dev/v1beta1 and kind: Application (not v1 and ConfigMap)",
			"apps: [{apiVersion: v1, kind: ConfigMap, metadata: {name: echo}}]"},
		{"app name unfit for a key", nil, "apps[0]: metadata.name echo.v2: an app name has only letters, digits, '-' and '_'",
			"apps: [{apiVersion: core.oam.dev/v1beta1, kind: Application, metadata: {name: echo.v2}, spec: {components: []}}]"},
		{"string manifest without a name", nil, "apps[0].manifest: the manifest has no metadata.name",
			"apps: [{manifest: \"apiVersion: core.oam.dev/v1beta1\\nkind: Application\\nspec: {}\\n\"}]"},
		{"string manifest that is not YAML", nil, "apps[0].manifest is not a YAML object",
			"apps: [{manifest: \"apiVersion: [core.oam.dev/v1beta1\\n\"}]"},
		{"string manifest that is a list", nil, "apps[0].manifest is not a YAML object",
			"apps: [{manifest: \"- a\\n- b\\n\"}]"},
		{"empty string manifest", nil, "apps[0].manifest must be an Application manifest as a YAML string",
			"apps: [{manifest: \"\"}]"},
		{"string manifest with more keys", nil, "apps[0]: an item with manifest takes only manifest (the whole manifest as a string), not metadata",
			"apps: [{manifest: \"x: 1\", metadata: {name: echo}}]"},
		{"two apps with one name", nil, "apps[1].manifest: app echo is also apps[0]: two items of apps cannot have one name",
			"apps:\n- {apiVersion: core.oam.dev/v1beta1, kind: Application, metadata: {name: echo}, spec: {components: []}}\n" +
				"- manifest: |\n    apiVersion: core.oam.dev/v1beta1\n    kind: Application\n    metadata: {name: echo}\n    spec: {components: []}\n"},
		{"configMap item with more keys", nil, "apps[0]: an item with configMap takes only configMap and key, not keys",
			"apps: [{configMap: team-apps, keys: [a.yaml]}]"},
		{"configMap that is no name", nil, "apps[0].configMap must be the name of a ConfigMap in the release namespace, not Team_Apps",
			"apps: [{configMap: Team_Apps}]"},
		{"configMap key that is no key", nil, "apps[0].key must be a key of ConfigMap team-apps, not a/b.yaml",
			"apps: [{configMap: team-apps, key: a/b.yaml}]"},
		{"configMap key the hosts do not read", nil, "apps[0].key echo.txt: the hosts read only files named *.yaml, *.yml or *.json",
			"apps: [{configMap: team-apps, key: echo.txt}]"},
		{"configMap listed twice", nil, "apps[1]: ConfigMap team-apps is already in apps: list a ConfigMap once without key (all its keys), or once per key",
			"apps: [{configMap: team-apps}, {configMap: team-apps}]"},
		{"configMap key after the whole configMap", nil, "apps[1]: ConfigMap team-apps (key echo.yaml) is already in apps",
			"apps: [{configMap: team-apps}, {configMap: team-apps, key: echo.yaml}]"},
		{"configMap key listed twice", nil, "apps[2]: ConfigMap team-apps (key echo.yaml) is already in apps",
			"apps: [{configMap: team-apps, key: echo.yaml}, {configMap: team-apps, key: other.yaml}, {configMap: team-apps, key: echo.yaml}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.values != "" {
				f := filepath.Join(t.TempDir(), "values.yaml")
				require.NoError(t, os.WriteFile(f, []byte(tc.values), 0o644))
				args = append(args, "-f", f)
			}
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

	require.NotContains(t, out, "apps", "no apps, no word of them")
	out = notes(t, "-f", "testdata/apps.values.yaml")
	for _, want := range []string{
		"Every host puts and deploys the apps in the values when it starts, and is ready once it runs",
		"its share of them (owner helm/demo):",
		"- echo\n", "- kvcounter\n", "- the manifests in ConfigMap team-apps\n",
		"- the manifests in ConfigMap shared.apps, key pinger.yaml\n", "- the manifests in ConfigMap shared.apps, key ponger.json\n",
		"4. The apps start providers and actors and link them; by hand",
	} {
		require.Contains(t, out, want)
	}

	// The operator credential and the dashboard token, and how to use them.
	out = notes(t)
	for _, want := range []string{
		"kubectl -n app get secret demo-trellis-dashboard -o jsonpath='{.data.token}' | base64 -d; echo",
		"as its operator user",
		"export TRELLIS_NATS_URL=nats://127.0.0.1:4222\n",
		"export TRELLIS_NATS_USER=trellis-operator\n",
		`export TRELLIS_NATS_PASSWORD="$(kubectl -n app get secret demo-trellis-nats-operator -o jsonpath='{.data.password}' | base64 -d)"`,
		`trellis ctl --nats-user trellis-operator --nats-password "$TRELLIS_NATS_PASSWORD" get hosts`,
		"Anonymous connections are refused.",
		"Only the host pods and pods labelled trellis.dev/nats-client=true may connect to NATS",
	} {
		require.Contains(t, out, want)
	}
	out = notes(t, "--set", "nats.tls.enabled=true", "--set", "nats.tls.secretName=nats-cert")
	require.Contains(t, out, "export TRELLIS_NATS_URL=tls://127.0.0.1:4222\n")
	require.Contains(t, out, `kubectl -n app get secret nats-cert -o jsonpath='{.data.ca\.crt}' | base64 -d > nats-ca.crt`)
	require.Contains(t, out, "export TRELLIS_NATS_TLS_CA=$PWD/nats-ca.crt")
	out = notes(t, "--set", "nats.auth.enabled=false", "--set", "dashboard.token.enabled=false", "--set", "nats.networkPolicy.enabled=false")
	for _, unwanted := range []string{"TRELLIS_NATS_USER", "token", "NetworkPolicy", "TRELLIS_NATS_TLS_CA"} {
		require.NotContains(t, out, unwanted)
	}

	require.NotContains(t, out, "NATS is a cluster")
	out = notes(t, "-f", "testdata/cluster.values.yaml")
	for _, want := range []string{
		"NATS is a cluster of 3 servers (StatefulSet demo-trellis-nats); the hosts know every",
		"server and keep the lattice's buckets on all 3:",
		"kubectl -n app rollout status statefulset/demo-trellis-nats\n",
		"The chart's NATS is a leaf node of tls://hub.example:7422, nats-leaf://a.hub.example:7422 or nats-leaf://b.hub.example:7422;",
		"the hosts keep the lattice data in the hub's JetStream domain hub.",
	} {
		require.Contains(t, out, want)
	}

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

// The pods are replaced one at a time, a new one ready before an old one goes, unless the user
// asks for Recreate.
func TestUpdateStrategy(t *testing.T) {
	def, err := template(t)
	require.NoError(t, err, def)
	require.Contains(t, object(t, def, "Deployment"), "  strategy:\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n    type: RollingUpdate\n")
	re, err := template(t, "--set", "updateStrategy.type=Recreate")
	require.NoError(t, err, re)
	require.Contains(t, re, "  strategy:\n    type: Recreate\n  selector:", "Recreate takes no rollingUpdate")
	pct, err := template(t, "--set", "updateStrategy.rollingUpdate.maxUnavailable=25%", "--set", "updateStrategy.rollingUpdate.maxSurge=0")
	require.NoError(t, err, pct)
	require.Contains(t, pct, "maxSurge: 0\n      maxUnavailable: 25%\n")
}

// renderExtra renders tpl, a template added to a copy of the chart, with the given values.
func renderExtra(t *testing.T, tpl string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "trellis")
	require.NoError(t, os.CopyFS(dir, os.DirFS(chartDir)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "extra-test.txt"), []byte(tpl), 0o644))
	out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "--kube-version", kubeVersion,
		"--show-only", "templates/extra-test.txt"}, args...)...)
	require.NoError(t, err, out)
	_, body, _ := strings.Cut(out, "# Source: trellis/templates/extra-test.txt\n")
	return strings.TrimSpace(body)
}

// The NATS switches: users with passwords (the default) and their Secrets, TLS from a Secret, the
// NetworkPolicy and its client labels, the dashboard token, the provider issuers.
func TestSecuritySwitches(t *testing.T) {
	def, err := template(t)
	require.NoError(t, err, def)
	conf := object(t, def, "Secret")
	for _, doc := range strings.Split(def, "\n---\n") {
		if strings.Contains(doc, "name: demo-trellis-nats-config\n") {
			conf = doc
		}
	}
	// Two users, hashed; no anonymous user; the lattice's subjects only.
	require.Equal(t, 2, strings.Count(conf, `password: "$2a$10$`), conf)
	require.NotContains(t, conf, "no_auth_user")
	require.Contains(t, conf, `"wasmbus.ctl.default.>"`)
	require.NotContains(t, conf, `">"`+"\n", "no user may use every subject")
	// The NetworkPolicy: the NATS pod, from the host pods and the client label, on the client port.
	np := object(t, def, "NetworkPolicy")
	for _, want := range []string{
		"  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: trellis\n      app.kubernetes.io/instance: demo\n      app.kubernetes.io/component: nats\n",
		"app.kubernetes.io/component: host\n", `trellis.dev/nats-client: "true"`, "- port: client\n",
	} {
		require.Contains(t, np, want)
	}

	// Another lattice and a JetStream domain: their subjects, under both API prefixes.
	other, err := template(t, "--set", "host.lattice=prod", "--set", "host.jsDomain=edge")
	require.NoError(t, err, other)
	for _, want := range []string{`"wasmbus.rpc.prod.>"`, `"$JS.API.STREAM.*.KV_LATTICEDATA_prod"`, `"$JS.edge.API.STREAM.*.KV_LATTICEDATA_prod"`, `"$O.prod.>"`} {
		require.Contains(t, other, want)
	}
	require.NotContains(t, other, "wasmbus.rpc.default")

	// Given passwords are used as they are, and the pods roll when they change.
	given, err := template(t, "--set", "nats.auth.host.password=0123456789abcdefXYZ", "--set", "nats.auth.operator.password=operator-password-1")
	require.NoError(t, err, given)
	require.Contains(t, given, `password: "0123456789abcdefXYZ"`)
	require.Contains(t, given, `password: "operator-password-1"`)
	require.Contains(t, given, "checksum/credentials: ")

	// Auth off: no users, no Secrets of theirs, no credentials in the hosts.
	off, err := template(t, "--set", "nats.auth.enabled=false", "--set", "nats.networkPolicy.enabled=false", "--set", "dashboard.token.enabled=false")
	require.NoError(t, err, off)
	for _, unwanted := range []string{"authorization {", "demo-trellis-nats-host", "demo-trellis-nats-operator", "TRELLIS_NATS_USER", "kind: NetworkPolicy", "TRELLIS_DASHBOARD_TOKEN", "demo-trellis-dashboard"} {
		require.NotContains(t, off, unwanted)
	}

	// TLS from a Secret: the server's certificate, tls:// for the hosts, the CA for them.
	tls, err := template(t, "--set", "nats.tls.enabled=true", "--set", "nats.tls.secretName=nats-cert")
	require.NoError(t, err, tls)
	for _, want := range []string{
		"    tls {\n      cert_file: /etc/nats/tls/tls.crt\n      key_file: /etc/nats/tls/tls.key\n",
		`value: "tls://demo-trellis-nats:4222"`,
		"- name: TRELLIS_NATS_TLS_CA\n              value: /etc/trellis/nats-tls/ca.crt\n",
		"- name: nats-tls\n              mountPath: /etc/trellis/nats-tls\n",
		"- name: nats-tls\n          secret:\n            secretName: nats-cert\n            defaultMode: 0440\n            items:\n              - key: ca.crt\n                path: ca.crt\n",
		"- name: tls\n          secret:\n            secretName: nats-cert\n",
	} {
		require.Contains(t, tls, want)
	}
	public, err := template(t, "--set", "nats.tls.enabled=true", "--set", "nats.tls.secretName=nats-cert", "--set", "nats.tls.caKey=")
	require.NoError(t, err, public)
	require.NotContains(t, public, "TRELLIS_NATS_TLS_CA", "without caKey the hosts use the system's roots")

	// More NATS clients by label and by peer.
	f := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(f, []byte("nats:\n  networkPolicy:\n    clientLabels: {trellis.dev/nats-client: null, team: ops}\n"+
		"    extraFrom: [{namespaceSelector: {matchLabels: {name: tools}}}]\n"), 0o644))
	np2, err := template(t, "-f", f)
	require.NoError(t, err, np2)
	policy := object(t, np2, "NetworkPolicy")
	require.Contains(t, policy, `team: "ops"`)
	require.NotContains(t, policy, "trellis.dev/nats-client")
	require.Contains(t, policy, "- namespaceSelector:\n            matchLabels:\n              name: tools\n")

	// The dashboard token from a Secret of the user's; the provider issuers.
	tok, err := template(t, "--set", "dashboard.token.existingSecret=dash", "--set", "host.providerIssuers={AAX2DRGT3GTGQ7QFZDHYNX5UAQNHQUYEI2QEIYZ3CAXXOSUKJ4CRJH7L}")
	require.NoError(t, err, tok)
	require.Contains(t, tok, "- name: TRELLIS_DASHBOARD_TOKEN\n              valueFrom:\n                secretKeyRef:\n                  name: dash\n                  key: token\n")
	require.NotContains(t, tok, "name: demo-trellis-dashboard\n")
	require.Contains(t, tok, "- name: TRELLIS_PROVIDER_ISSUERS\n              value: \"AAX2DRGT3GTGQ7QFZDHYNX5UAQNHQUYEI2QEIYZ3CAXXOSUKJ4CRJH7L\"\n")
}
