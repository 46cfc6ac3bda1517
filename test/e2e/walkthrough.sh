#!/usr/bin/env bash
# test/e2e/walkthrough.sh KUBECONFIG REGISTRY - the Kubernetes walkthrough of docs/kubernetes.md,
# run as a test against any cluster (the throwaway one of hack/cluster, kind, k3d, a real one):
#
#   1. helm install --wait the chart into a new namespace: two host replicas sharing the cluster
#      key the chart makes, applier support, pods labelled wasmcloud.dev/route-to=true, the chart's
#      NATS;
#   2. through a port-forward to NATS, `trellis ctl` starts the httpserver and applier providers
#      and the echo actor on both hosts, from OCI references in REGISTRY;
#   3. `link put … ADDRESS=0.0.0.0:8080` -> the applier creates Service <actor id, lowercased> ->
#      `kubectl port-forward svc/<id>` -> curl answers the echo body; the dashboard answers through
#      `kubectl port-forward deployment/<release>-trellis`;
#   4. `trellis ctl call` signed with the chart's cluster key (read from its Secret) answers;
#      `helm upgrade` keeps that key;
#   5. requests through the Service from a client pod reach both host pods (the invocations carry
#      each pod's host id: test/e2e/rpcwatch counts them); deleting one host pod while a client
#      keeps calling does not break the Service, and once the replacement host runs the providers
#      and the actor (started by this script, as an operator would), both pods serve again;
#   6. `link del` -> the applier deletes the Service; `link put` again -> it is back; `helm
#      uninstall` with the link in place leaves nothing in the namespace (the applier's Services
#      are owned by the release's ServiceAccount).
#
# REGISTRY must hold what `make images push-providers push-actors REGISTRY=… TAG=…` pushes, and be
# reachable from this machine, the cluster's nodes (images) and its pods (actors and providers).
# When the cluster knows the registry by another name, set CLUSTER_REGISTRY to that name.
#
# Environment: TAG (default: the chart's appVersion), INSECURE=1 (the registry is plain HTTP: the
# hosts get it in host.allowedInsecure), CLUSTER_REGISTRY, NS (default trellis-e2e-<time>),
# RELEASE (default demo, so the host Deployment is demo-trellis), E2E_CLIENT_IMAGE (an image with sh and wget for the in-cluster client;
# default busybox:stable), KEEP_NAMESPACE=1 (leave the namespace on failure, for a look),
# TRELLIS (the CLI; default: built from this tree), HELM, KUBECTL.
# Needs: kubectl, jq, curl, go. Prints the time of every step; exits non-zero at the first failure,
# after printing the state of the namespace.
set -euo pipefail

usage() { echo "usage: $0 KUBECONFIG REGISTRY" >&2; exit 2; }
[ $# -eq 2 ] || usage
export KUBECONFIG=$1
REGISTRY=${2%/}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

TAG=${TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/trellis/Chart.yaml)}
CLUSTER_REGISTRY=${CLUSTER_REGISTRY:-$REGISTRY}
NS=${NS:-trellis-e2e-$(date +%s)}
RELEASE=${RELEASE:-demo}
CLIENT_IMAGE=${E2E_CLIENT_IMAGE:-busybox:stable}
KUBECTL=${KUBECTL:-kubectl}
HELM=${HELM:-$(hack/tools.sh helm)}
TRELLIS=${TRELLIS:-}
NATS_TAG=$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)
NATS_TAG=${NATS_TAG#v}
EXPECT='{"body":[],"method":"GET","path":"/","query_string":""}'
for c in "$KUBECTL" jq curl go; do
	command -v "$c" >/dev/null || { echo "walkthrough.sh: $c is missing (Debian: apt-get install ${c/kubectl/kubernetes-client})" >&2; exit 1; }
done
[ -f "$KUBECONFIG" ] || { echo "walkthrough.sh: no kubeconfig at $KUBECONFIG" >&2; exit 1; }

WORK=$(mktemp -d -t trellis-e2e.XXXXXX)
PIDS=()
T0=$(date +%s.%N)
TS=$T0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
say() { echo "[e2e $(elapsed "$T0")s] $*" >&2; }
step() { # NAME: ends the previous step (printing its time) and starts the next
	[ -n "${STEP:-}" ] && say "ok: $STEP ($(elapsed "$TS")s)"
	STEP=$1 TS=$(now)
	say "== $STEP"
}
fail() { say "FAIL: ${STEP:-}: $*"; exit 1; }
retry() { # SECONDS CMD...: until CMD (a command or a function, evaluated each time) succeeds, every 0.5 s
	local end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.5
	done
}
k() { "$KUBECTL" -n "$NS" "$@"; }

# diagnostics and cleanup: port-forwards and watchers by PID; the release and the namespace
# (unless KEEP_NAMESPACE=1 after a failure)
finish() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ $rc -ne 0 ]; then
		say "state of namespace $NS:"
		k get all,endpointslices,secrets,serviceaccounts,roles,rolebindings -o wide >&2 2>&1 || true
		k describe pods >"$WORK/describe-pods.txt" 2>&1 || true
		for p in $(k get pods -l app.kubernetes.io/instance="$RELEASE" -o name 2>/dev/null); do
			echo "---- logs of $p" >&2
			k logs "$p" --all-containers --tail=60 >&2 2>&1 || true
		done
		say "logs and port-forward output kept in $WORK"
		if [ "${KEEP_NAMESPACE:-0}" = 1 ]; then
			say "namespace $NS kept (KEEP_NAMESPACE=1)"
			exit $rc
		fi
	fi
	"$HELM" uninstall "$RELEASE" -n "$NS" --wait --timeout 2m >/dev/null 2>&1 || true
	"$KUBECTL" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
	[ $rc -eq 0 ] && rm -rf "$WORK"
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

# portforward VAR TARGET REMOTE_PORT: kubectl port-forward on a free local port, stored in VAR
portforward() {
	local var=$1 target=$2 remote=$3 log=$WORK/pf-$1.log port=""
	k port-forward "$target" ":$remote" >"$log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 150); do
		port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -1)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || fail "kubectl port-forward $target: $(cat "$log")"
	printf -v "$var" %s "$port"
}

ctl() { "$TRELLIS" ctl "$@"; }
hosts_json() { ctl get hosts -o json; }
pod_of() { hosts_json | jq -r --arg id "$1" '.hosts[] | select(.id == $id) | .friendly_name'; }
# conditions for retry
hosts_are() { [ "$(hosts_json | jq '.hosts | length')" = "$1" ]; }
new_host() { hosts_json | jq -r '.hosts[].id' | grep -v -x -e "$H1" -e "$H2" | head -1; }
new_host_joined() { [ -n "$(new_host)" ]; }
ready_endpoints_are() { [ "$(k get endpointslices -l kubernetes.io/service-name="$SVC" -o json | jq '[.items[].endpoints[]? | select(.conditions.ready)] | length')" = "$1" ]; }
service_gone() { ! k get service "$SVC" >/dev/null 2>&1; }
no_pods() { [ -z "$(k get pods -o name)" ]; }

# client NAME SCRIPT: a pod running SCRIPT (sh) with the client image; waits for it to finish and
# prints its output
client() {
	local name=$1 script=$2
	k run "$name" --image="$CLIENT_IMAGE" --restart=Never --labels=app.kubernetes.io/name=trellis-e2e-client \
		--command -- sh -c "$script" >/dev/null
	k wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=240s >/dev/null ||
		fail "client pod $name did not finish: $(k get pod "$name" -o jsonpath='{.status.phase}') $(k logs "$name" 2>&1 | tail -5)"
	k logs "$name"
	k delete pod "$name" --wait=false >/dev/null
}
# burst N: N requests through the Service from inside the cluster, one connection each (so
# kube-proxy picks a pod for each); prints "ok=… fail=…". The client calls the Service's cluster
# IP, and times out with `timeout`: the statically linked busybox of the local cluster crashes
# resolving names and with wget -T.
burst() {
	client "e2e-burst-$RANDOM" "ok=0; fail=0; for i in \$(seq $1); do
		b=\$(timeout 5 wget -q -O - http://$SVC_IP:8080/ 2>/dev/null) && [ \"\$b\" = '$EXPECT' ] && ok=\$((ok+1)) || fail=\$((fail+1)); done
		echo ok=\$ok fail=\$fail"
}
# served_by N: a burst of N requests while rpcwatch counts the invocations by host; sets SERVED
# (lines "HOST_ID COUNT") and checks every request was answered
served_by() {
	local out=$WORK/rpcwatch-$RANDOM
	"$WORK/rpcwatch" --nats-url "$TRELLIS_NATS_URL" --actor "$ACTOR" >"$out.out" 2>"$out.err" &
	local w=$!
	PIDS+=("$w")
	retry 60 grep -q '^watching' "$out.err" || fail "rpcwatch did not start: $(cat "$out.err")"
	local res
	res=$(burst "$1")
	sleep 1
	kill -INT $w
	wait $w || fail "rpcwatch: $(cat "$out.err")"
	[ "$res" = "ok=$1 fail=0" ] || fail "requests through Service $SVC: $res"
	SERVED=$(cat "$out.out")
	say "$1 requests through Service $SVC: $res; invocations by host:"
	while read -r h n; do say "  $h ($(pod_of "$h")): $n"; done <<<"$SERVED"
}
served() { awk -v h="$1" '$1==h{print $2}' <<<"$SERVED"; }

# ---------------------------------------------------------------------------------------------
step "tools"
if [ -z "$TRELLIS" ]; then
	TRELLIS=$WORK/trellis
	go build -o "$TRELLIS" ./cmd/trellis
fi
go build -o "$WORK/rpcwatch" ./test/e2e/rpcwatch
"$KUBECTL" version >&2
"$HELM" version --short >&2
export TRELLIS_KEYS_DIR=$WORK/keys TRELLIS_LATTICE=default
say "namespace $NS, release $RELEASE, images and artifacts from $CLUSTER_REGISTRY (tag $TAG)"

step "helm install --wait (2 replicas, applier support, the chart's NATS)"
cat >"$WORK/values.yaml" <<EOF
replicaCount: 2
image: {repository: "$CLUSTER_REGISTRY/trellis", tag: "$TAG", pullPolicy: Always}
nats:
  image: {repository: "$CLUSTER_REGISTRY/nats-server", tag: "$NATS_TAG", pullPolicy: Always}
enableApplierSupport: true
customLabels: {wasmcloud.dev/route-to: "true"}
host:
  allowedInsecure: [$([ -n "${INSECURE:-}" ] && [ "$INSECURE" != 0 ] && echo "\"$CLUSTER_REGISTRY\"")]
EOF
"$HELM" install "$RELEASE" charts/trellis -n "$NS" --create-namespace -f "$WORK/values.yaml" --wait --timeout 5m >"$WORK/install.txt" ||
	fail "helm install: $(cat "$WORK/install.txt")"
FULL=$(k get deployment -l app.kubernetes.io/instance="$RELEASE" -o jsonpath='{.items[0].metadata.name}')
sed -n '/^NOTES:/,$p' "$WORK/install.txt" | head -12 >&2
k get pods -o wide >&2

step "trellis ctl through a port-forward to NATS: two hosts"
portforward NATS_PORT "svc/$FULL-nats" 4222
export TRELLIS_NATS_URL=nats://127.0.0.1:$NATS_PORT
retry 90 hosts_are 2 || fail "hosts: $(ctl get hosts 2>&1)"
ctl get hosts >&2
mapfile -t HOSTS < <(hosts_json | jq -r '.hosts[].id' | sort)
H1=${HOSTS[0]} H2=${HOSTS[1]}

step "start providers and actors from OCI references"
HTTP_REF=$CLUSTER_REGISTRY/providers/httpserver:$TAG
APPLIER_REF=$CLUSTER_REGISTRY/providers/applier:$TAG
ECHO_REF=$CLUSTER_REGISTRY/actors/echo:$TAG
# Every host pod runs the same three, so any one of them can go: hosts do not restart what a lost
# host ran (no wadm), and the applier instances converge the same Services idempotently.
start_all() { # HOST_ID
	HTTP=$(ctl start provider "$HTTP_REF" --host-id "$1" --timeout 90s -o json | jq -r .id)
	APPLIER=$(ctl start provider "$APPLIER_REF" --host-id "$1" --timeout 90s -o json | jq -r .id)
	ACTOR=$(ctl start actor "$ECHO_REF" --host-id "$1" --timeout 90s -o json | jq -r .id)
}
start_all "$H1"
start_all "$H2"
say "httpserver $HTTP, applier $APPLIER, echo $ACTOR"
ctl get inventory >&2

step "link put ADDRESS=0.0.0.0:8080 -> the applier's Service"
ctl link put "$ACTOR" "$HTTP" wasmcloud:httpserver ADDRESS=0.0.0.0:8080 >&2
SVC=$(tr 'A-Z' 'a-z' <<<"$ACTOR")
retry 60 k get service "$SVC" || fail "no Service $SVC: $(k get services 2>&1)"
k get service "$SVC" -o wide >&2
SVC_IP=$(k get service "$SVC" -o jsonpath='{.spec.clusterIP}')
[ "$(k get service "$SVC" -o jsonpath='{.spec.selector.wasmcloud\.dev/route-to}')" = true ] || fail "Service $SVC does not select wasmcloud.dev/route-to=true"
retry 60 ready_endpoints_are 2 ||
	fail "Service $SVC has not 2 ready endpoints"

step "kubectl port-forward svc/$SVC 8080 + curl"
portforward SVC_PORT "svc/$SVC" 8080
retry 60 curl -sf -m 3 "http://127.0.0.1:$SVC_PORT/" || fail "curl through the port-forward: $(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/" 2>&1)"
BODY=$(curl -sS -m 5 "http://127.0.0.1:$SVC_PORT/")
say "curl localhost:$SVC_PORT -> $BODY"
[ "$BODY" = "$EXPECT" ] || fail "echo answered $BODY, want $EXPECT"

step "kubectl port-forward deployment/$FULL 4000: the dashboard"
portforward DASH_PORT "deployment/$FULL" 4000
retry 30 curl -sf -m 3 "http://127.0.0.1:$DASH_PORT/api/readyz" || fail "dashboard /api/readyz: $(curl -sS -m 3 "http://127.0.0.1:$DASH_PORT/api/readyz" 2>&1)"
PAGE=$(curl -sf -m 5 "http://127.0.0.1:$DASH_PORT/") || fail "the dashboard page: $(curl -sS -m 5 "http://127.0.0.1:$DASH_PORT/" 2>&1 | head -3)"
grep -qi '<html' <<<"$PAGE" || fail "the dashboard page is not HTML: $(head -c 300 <<<"$PAGE")"
DASH_HOSTS=$(curl -sf -m 5 "http://127.0.0.1:$DASH_PORT/api/hosts" | jq length)
say "dashboard: /api/readyz ok, page ok, /api/hosts lists $DASH_HOSTS hosts"
[ "$DASH_HOSTS" = 2 ] || fail "the dashboard lists $DASH_HOSTS hosts, want 2"

step "trellis ctl call signed with the chart's cluster key; helm upgrade keeps the key"
KEY=$(k get secret "$FULL-cluster" -o jsonpath='{.data.clusterSeed}')
[ -n "$KEY" ] || fail "no clusterSeed in Secret $FULL-cluster"
base64 -d <<<"$KEY" >"$WORK/cluster.key"
CALL=$(ctl call --cluster-seed "$WORK/cluster.key" "$ACTOR" HttpServer.HandleRequest '{"method":"GET","path":"/","queryString":"","header":{},"body":""}' 2>&1) ||
	fail "ctl call: $CALL"
grep -qF "body: $EXPECT" <<<"$CALL" || fail "ctl call answered $CALL, want the body $EXPECT"
"$HELM" upgrade "$RELEASE" charts/trellis -n "$NS" --reuse-values --wait --timeout 5m >"$WORK/upgrade.txt" ||
	fail "helm upgrade: $(cat "$WORK/upgrade.txt")"
[ "$(k get secret "$FULL-cluster" -o jsonpath='{.data.clusterSeed}')" = "$KEY" ] || fail "helm upgrade changed the cluster key"
say "ctl call with the key of Secret $FULL-cluster answered the echo body; helm upgrade kept the key"

step "requests through the Service reach both host pods"
served_by 40
[ "$(served "$H1")" -gt 0 ] 2>/dev/null && [ "$(served "$H2")" -gt 0 ] 2>/dev/null || fail "not served by both hosts: $SERVED"

step "delete one host pod while a client keeps calling the Service"
P1=$(pod_of "$H1")
# the client: a request every 0.2 s for DURATION seconds, one line each
DURATION=${E2E_DELETE_SECONDS:-30}
k run e2e-steady --image="$CLIENT_IMAGE" --restart=Never --labels=app.kubernetes.io/name=trellis-e2e-client --command -- sh -c "
	end=\$((\$(date +%s) + $DURATION)); while [ \$(date +%s) -lt \$end ]; do
		b=\$(timeout 3 wget -q -O - http://$SVC_IP:8080/ 2>&1) && [ \"\$b\" = '$EXPECT' ] && echo \"\$(date +%s) ok\" || echo \"\$(date +%s) fail \$b\"
		sleep 0.2; done" >/dev/null
k wait --for=condition=Ready pod/e2e-steady --timeout=120s >/dev/null || fail "client pod e2e-steady did not start"
sleep 3
DELETED_AT=$(date +%s)
k delete pod "$P1" --wait=false >&2
say "deleted $P1 (host $H1); waiting for its replacement to join"
retry 180 new_host_joined || fail "no replacement host joined"
H3=$(new_host)
JOINED_AT=$(date +%s)
say "host $H3 ($(pod_of "$H3")) joined $((JOINED_AT - DELETED_AT))s after the delete: starting the providers and echo on it"
start_all "$H3"
RESTORED_AT=$(date +%s)
k rollout status "deployment/$FULL" --timeout=120s >/dev/null || fail "deployment $FULL did not recover its two replicas"
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/e2e-steady --timeout=$((DURATION + 60))s >/dev/null || fail "client pod e2e-steady did not finish"
k logs e2e-steady >"$WORK/steady.log"
k delete pod e2e-steady --wait=false >/dev/null
OK=$(grep -c ' ok$' "$WORK/steady.log" || true)
FAILED=$(grep -c ' fail' "$WORK/steady.log" || true)
say "client during the delete: $OK answered, $FAILED failed (delete at $DELETED_AT, replacement joined at $JOINED_AT, provider and actor on it at $RESTORED_AT)"
grep ' fail' "$WORK/steady.log" | head -5 >&2 || true
[ "$OK" -gt 0 ] && [ "$FAILED" = 0 ] || fail "the Service failed $FAILED of $((OK + FAILED)) requests while a pod was replaced"
served_by 40
[ "$(served "$H2")" -gt 0 ] 2>/dev/null && [ "$(served "$H3")" -gt 0 ] 2>/dev/null || fail "not served by both hosts after the replacement: $SERVED"

step "link del -> the applier deletes the Service; link put brings it back"
ctl link del "$ACTOR" wasmcloud:httpserver >&2
retry 60 service_gone || fail "Service $SVC is still there after link del"
ctl link put "$ACTOR" "$HTTP" wasmcloud:httpserver ADDRESS=0.0.0.0:8080 >&2
retry 60 k get service "$SVC" || fail "no Service $SVC after the link was put again"
OWNER=$(k get service "$SVC" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')
say "Service $SVC is back, owned by $OWNER"

step "helm uninstall with the link in place leaves nothing"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
"$HELM" uninstall "$RELEASE" -n "$NS" --wait --timeout 3m >&2
retry 120 no_pods || fail "pods left: $(k get pods -o name)"
left() {
	k get all,configmaps,secrets,serviceaccounts,roles,rolebindings,persistentvolumeclaims,endpointslices -o name |
		grep -v -x -e configmap/kube-root-ca.crt -e serviceaccount/default || true
}
nothing_left() { [ -z "$(left)" ]; }
# the applier's Services go with the ServiceAccount that owns them (Kubernetes' garbage collector)
retry 60 nothing_left || true
LEFT=$(left)
[ -z "$LEFT" ] || fail "left in namespace $NS after helm uninstall: $LEFT"
say "namespace $NS holds nothing but its default ServiceAccount and root CA ConfigMap"
"$KUBECTL" delete namespace "$NS" --wait=false >/dev/null
step "done"
say "PASS: the walkthrough took $(elapsed "$T0")s"
