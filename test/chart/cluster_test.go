package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// doc returns the rendered object of the given kind and name.
func doc(t *testing.T, out, kind, name string) string {
	t.Helper()
	for _, d := range strings.Split(out, "\n---\n") {
		if strings.Contains(d, "\nkind: "+kind+"\n") && strings.Contains(d, "\n  name: "+name+"\n") {
			return d
		}
	}
	t.Fatalf("no %s %s in the output", kind, name)
	return ""
}

// nats.cluster.enabled: a StatefulSet of three servers routed through a headless Service, JetStream
// on each under its pod's name, a PodDisruptionBudget, preferred anti-affinity, the route port in
// the NetworkPolicy, route credentials, and hosts that know every server and replicate the buckets.
func TestNATSCluster(t *testing.T) {
	out, err := template(t, "--set", "nats.cluster.enabled=true")
	require.NoError(t, err, out)

	sts := object(t, out, "StatefulSet")
	for _, want := range []string{
		"  replicas: 3\n  serviceName: demo-trellis-nats-headless\n", "podManagementPolicy: Parallel",
		"- name: SERVER_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.name\n",
		"- name: cluster\n              containerPort: 6222\n",
		"preferredDuringSchedulingIgnoredDuringExecution:\n            - podAffinityTerm:\n                labelSelector:\n                  matchLabels:\n" +
			"                    app.kubernetes.io/component: nats\n                    app.kubernetes.io/instance: demo\n                    app.kubernetes.io/name: trellis\n" +
			"                topologyKey: kubernetes.io/hostname\n              weight: 100\n",
		"path: /healthz\n", "emptyDir: {}",
	} {
		require.Contains(t, sts, want)
	}
	require.NotContains(t, sts, "volumeClaimTemplates", "no persistent volumes unless nats.persistence is on")

	headless := doc(t, out, "Service", "demo-trellis-nats-headless")
	for _, want := range []string{"clusterIP: None", "publishNotReadyAddresses: true", "port: 6222", "port: 4222", "app.kubernetes.io/component: nats"} {
		require.Contains(t, headless, want)
	}
	// The client Service stays as it is with one server.
	client := doc(t, out, "Service", "demo-trellis-nats")
	require.Contains(t, client, "type: ClusterIP")
	require.NotContains(t, client, "6222")

	pdb := doc(t, out, "PodDisruptionBudget", "demo-trellis-nats")
	require.Contains(t, pdb, "name: demo-trellis-nats\n")
	require.Contains(t, pdb, "maxUnavailable: 1\n")
	require.Contains(t, pdb, "app.kubernetes.io/component: nats\n")

	conf := doc(t, out, "Secret", "demo-trellis-nats-config")
	require.Contains(t, conf, "server_name: $SERVER_NAME\n")
	require.Regexp(t, `cluster \{\n\s+name: "demo-trellis-nats"\n\s+listen: 0.0.0.0:6222\n\s+no_advertise: true\n\s+authorization \{\n\s+user: "trellis-route"\n\s+password: "([A-Za-z0-9]{32})"`, conf)
	password := regexpGroup(t, `user: "trellis-route"\n\s+password: "([A-Za-z0-9]{32})"`, conf)
	for i := range 3 {
		require.Contains(t, conf, `"nats://trellis-route:`+password+`@demo-trellis-nats-`+string(rune('0'+i))+`.demo-trellis-nats-headless:6222"`)
	}
	route := doc(t, out, "Secret", "demo-trellis-nats-route")
	require.Contains(t, route, `password: "`+password+`"`)
	require.Contains(t, route, `user: "trellis-route"`)
	// The client users keep their hashes; anonymous clients are still refused.
	require.Equal(t, 2, strings.Count(conf, `password: "$2a$10$`), conf)

	np := object(t, out, "NetworkPolicy")
	require.Contains(t, np, "- port: client\n")
	require.Contains(t, np, "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: trellis\n"+
		"              app.kubernetes.io/instance: demo\n              app.kubernetes.io/component: nats\n      ports:\n        - port: cluster\n")

	deploy := object(t, out, "Deployment")
	require.Contains(t, deploy, `value: "nats://demo-trellis-nats-0.demo-trellis-nats-headless:4222,nats://demo-trellis-nats-1.demo-trellis-nats-headless:4222,nats://demo-trellis-nats-2.demo-trellis-nats-headless:4222"`)
	require.Contains(t, deploy, "- name: TRELLIS_JS_REPLICAS\n              value: \"3\"\n")

	// One server, the default: none of it.
	def, err := template(t)
	require.NoError(t, err, def)
	require.NotRegexp(t, `kind: PodDisruptionBudget\nmetadata:\n  name: demo-trellis-nats\n`, def, "the hosts' PodDisruptionBudget only")
	for _, unwanted := range []string{"nats-headless", "TRELLIS_JS_REPLICAS", "cluster {", "SERVER_NAME", "podManagementPolicy", "podAntiAffinity", "nats-route", "leafnodes"} {
		require.NotContains(t, def, unwanted)
	}

	// Five servers, required anti-affinity, TLS, and no auth (no route user then).
	five, err := template(t, "--set", "nats.cluster.enabled=true", "--set", "nats.cluster.replicas=5", "--set", "nats.cluster.antiAffinity=required",
		"--set", "nats.tls.enabled=true", "--set", "nats.tls.secretName=nats-cert", "--set", "nats.auth.enabled=false", "--set", "nats.cluster.maxUnavailable=2",
		"--set", "nats.cluster.name=lattice")
	require.NoError(t, err, five)
	require.Contains(t, five, "  replicas: 5\n")
	require.Contains(t, five, "requiredDuringSchedulingIgnoredDuringExecution:\n            - labelSelector:")
	require.Contains(t, five, `value: "tls://demo-trellis-nats-0.demo-trellis-nats-headless:4222,`)
	require.Contains(t, five, `tls://demo-trellis-nats-4.demo-trellis-nats-headless:4222"`)
	require.Contains(t, five, "- name: TRELLIS_JS_REPLICAS\n              value: \"5\"\n")
	require.Contains(t, five, `"nats://demo-trellis-nats-4.demo-trellis-nats-headless:6222"`)
	require.Contains(t, five, `name: "lattice"`)
	require.Contains(t, five, "maxUnavailable: 2\n")
	require.NotContains(t, five, "trellis-route")
	require.NotContains(t, five, "demo-trellis-nats-route")

	// No anti-affinity, or the user's affinity instead of the chart's.
	none, err := template(t, "--set", "nats.cluster.enabled=true", "--set", "nats.cluster.antiAffinity=none")
	require.NoError(t, err, none)
	require.NotContains(t, none, "podAntiAffinity")
	own, err := template(t, "--set", "nats.cluster.enabled=true", "--set", "nats.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
		"--set", "nats.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists")
	require.NoError(t, err, own)
	require.NotContains(t, own, "podAntiAffinity")
	require.Contains(t, object(t, own, "StatefulSet"), "key: pool")

	// A route password of the user's is used as it is.
	given, err := template(t, "--set", "nats.cluster.enabled=true", "--set", "nats.cluster.routePassword=my-route-password-1")
	require.NoError(t, err, given)
	require.Contains(t, given, `"nats://trellis-route:my-route-password-1@demo-trellis-nats-0.demo-trellis-nats-headless:6222"`)
}

func regexpGroup(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	require.NotNil(t, m, "no %s in %s", re, s)
	return m[1]
}

// nats.leafnode.remotes: the chart's NATS joins each hub as a leaf node, with the credentials file
// from the named Secret mounted into the NATS pods only.
func TestLeafNode(t *testing.T) {
	f := writeValues(t, "host: {jsDomain: hub}\nnats:\n  jetstream: {domain: edge}\n  leafnode:\n    remotes:\n"+
		"      - {url: \"tls://hub.example:7422\", credentialsSecret: hub-creds}\n"+
		"      - {urls: [\"nats-leaf://a.example:7422\", \"nats-leaf://b.example:7422\"]}\n")
	out, err := template(t, "-f", f)
	require.NoError(t, err, out)
	conf := doc(t, out, "Secret", "demo-trellis-nats-config")
	require.Contains(t, conf, "    leafnodes {\n      remotes: [\n        {\n          urls: [\n            \"tls://hub.example:7422\"\n          ]\n"+
		"          credentials: \"/etc/nats/leafnode/0/nats.creds\"\n        }\n        {\n          urls: [\n            \"nats-leaf://a.example:7422\"\n"+
		"            \"nats-leaf://b.example:7422\"\n          ]\n        }\n      ]\n    }\n")
	sts := object(t, out, "StatefulSet")
	require.Contains(t, sts, "- name: leafnode-0\n              mountPath: /etc/nats/leafnode/0\n              readOnly: true\n")
	require.Contains(t, sts, "- name: leafnode-0\n          secret:\n            secretName: hub-creds\n            defaultMode: 0440\n"+
		"            items:\n              - key: nats.creds\n                path: nats.creds\n")
	require.NotContains(t, sts, "leafnode-1", "a remote without credentials mounts nothing")
	deploy := object(t, out, "Deployment")
	require.NotContains(t, deploy, "hub-creds", "the hosts never see the hub's credentials")
	require.Contains(t, deploy, "- name: TRELLIS_JS_DOMAIN\n              value: \"hub\"\n", "the hosts keep the lattice data in the hub's JetStream")
	lint, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", namespace, "-f", f)
	require.NoError(t, err, lint)
}

// writeValues writes a values file and returns its path.
func writeValues(t *testing.T, values string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(f, []byte(values), 0o644))
	return f
}
