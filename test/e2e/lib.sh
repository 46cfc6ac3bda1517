# shellcheck shell=bash disable=SC2034  # (variables the sourcing scripts read)
# test/e2e/lib.sh - what the e2e scripts (walkthrough.sh, apps.sh) share; sourced, with the
# script's arguments (KUBECONFIG REGISTRY) and E2E_NS (the default namespace) set:
#
#   arguments and environment (TAG, CLUSTER_REGISTRY, NS, RELEASE, E2E_CLIENT_IMAGE, TRELLIS,
#   HELM, KUBECTL, KEEP_NAMESPACE), the work directory, step/say/fail/retry, the cleanup trap
#   (port-forwards and watchers by PID, the release, the namespace; the namespace's state and the
#   pods' logs on failure), port-forwards, `trellis ctl`, client pods calling a Service from
#   inside the cluster, and rpcwatch (which host pods a burst of requests went through).
set -euo pipefail

usage() { echo "usage: $0 KUBECONFIG REGISTRY" >&2; exit 2; }
[ $# -eq 2 ] || usage
export KUBECONFIG=$1
REGISTRY=${2%/}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SCRIPT=$(basename "$0")

TAG=${TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/trellis/Chart.yaml)}
CLUSTER_REGISTRY=${CLUSTER_REGISTRY:-$REGISTRY}
NS=${NS:-$E2E_NS}
RELEASE=${RELEASE:-demo}
CLIENT_IMAGE=${E2E_CLIENT_IMAGE:-busybox:stable}
KUBECTL=${KUBECTL:-kubectl}
HELM=${HELM:-$(hack/tools.sh helm)}
TRELLIS=${TRELLIS:-}
NATS_TAG=$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)
NATS_TAG=${NATS_TAG#v}
EXPECT='{"body":[],"method":"GET","path":"/","query_string":""}'
for c in "$KUBECTL" jq curl go; do
	command -v "$c" >/dev/null || { echo "$SCRIPT: $c is missing (Debian: apt-get install ${c/kubectl/kubernetes-client})" >&2; exit 1; }
done
[ -f "$KUBECONFIG" ] || { echo "$SCRIPT: no kubeconfig at $KUBECONFIG" >&2; exit 1; }

WORK=$(mktemp -d -t trellis-e2e.XXXXXX)
PIDS=()
T0=$(date +%s.%N)
TS=$T0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
between() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
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
# (unless KEEP_NAMESPACE=1 after a failure). E2E_DIAGNOSE, when set, names a function that prints
# more on failure (it runs before the port-forwards are stopped).
finish() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -n "${E2E_DIAGNOSE:-}" ]; then "$E2E_DIAGNOSE" >&2 2>&1 || true; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ $rc -ne 0 ]; then
		say "state of namespace $NS:"
		k get all,endpointslices,secrets,serviceaccounts,roles,rolebindings -o wide >&2 2>&1 || true
		k get events --sort-by=.lastTimestamp >"$WORK/events.txt" 2>&1 || true
		k describe pods >"$WORK/describe-pods.txt" 2>&1 || true
		for p in $(k get pods -l app.kubernetes.io/instance="$RELEASE" -o name 2>/dev/null); do
			echo "---- logs of $p" >&2
			k logs "$p" --all-containers --tail=60 >&2 2>&1 || true
		done
		say "logs, events and port-forward output kept in $WORK"
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

# tools: the CLI (unless TRELLIS names one) and rpcwatch, built from this tree
build_tools() {
	if [ -z "$TRELLIS" ]; then
		TRELLIS=$WORK/trellis
		go build -o "$TRELLIS" ./cmd/trellis
	fi
	go build -o "$WORK/rpcwatch" ./test/e2e/rpcwatch
	"$KUBECTL" version >&2
	"$HELM" version --short >&2
	export TRELLIS_KEYS_DIR=$WORK/keys TRELLIS_LATTICE=default
}

# provider_issuer: the account that signed the provider archives pushed to REGISTRY (E2E_PROVIDER_ISSUER,
# else the issuer of the archive `make e2e` built, E2E_PAR_DIR/httpserver.par.gz); the hosts run
# only archives of that account (host.providerIssuers)
provider_issuer() {
	if [ -z "${PROVIDER_ISSUER:-}" ]; then
		PROVIDER_ISSUER=${E2E_PROVIDER_ISSUER:-}
		local par=${E2E_PAR_DIR:-build/e2e/providers}/httpserver.par.gz
		if [ -z "$PROVIDER_ISSUER" ]; then
			[ -f "$par" ] || fail "no $par to read the providers' signer from: give E2E_PROVIDER_ISSUER (the account key, A…, that signed the provider archives in $REGISTRY)"
			PROVIDER_ISSUER=$("$TRELLIS" par inspect "$par" -o json | jq -r .issuer)
		fi
		[[ $PROVIDER_ISSUER == A* ]] || fail "the providers' signer is not an account key: $PROVIDER_ISSUER"
	fi
	echo "$PROVIDER_ISSUER"
}

# base_values FILE: the values both parts install with (two host replicas, applier support, pods
# labelled wasmcloud.dev/route-to=true, images from CLUSTER_REGISTRY, the chart's NATS with its
# default authentication and NetworkPolicy, the dashboard token, only provider archives signed by
# the account that signed the pushed ones)
base_values() {
	local issuer
	issuer=$(provider_issuer) || exit 1
	cat >"$1" <<EOF
replicaCount: 2
image: {repository: "$CLUSTER_REGISTRY/trellis", tag: "$TAG", pullPolicy: Always}
nats:
  image: {repository: "$CLUSTER_REGISTRY/nats-server", tag: "$NATS_TAG", pullPolicy: Always}
enableApplierSupport: true
customLabels: {wasmcloud.dev/route-to: "true"}
host:
  allowedInsecure: [$([ -n "${INSECURE:-}" ] && [ "$INSECURE" != 0 ] && echo "\"$CLUSTER_REGISTRY\"")]
  providerIssuers: ["$issuer"]
EOF
}

# nats_operator FULL: log in as the operator of release FULL: its user and password from Secret
# FULL-nats-operator, exported for `trellis ctl` and rpcwatch (TRELLIS_NATS_USER, TRELLIS_NATS_PASSWORD)
nats_operator() {
	TRELLIS_NATS_USER=$(k get secret "$1-nats-operator" -o jsonpath='{.data.user}' | base64 -d)
	TRELLIS_NATS_PASSWORD=$(k get secret "$1-nats-operator" -o jsonpath='{.data.password}' | base64 -d)
	[ -n "$TRELLIS_NATS_USER" ] && [ -n "$TRELLIS_NATS_PASSWORD" ] || fail "no user and password in Secret $1-nats-operator"
	export TRELLIS_NATS_USER TRELLIS_NATS_PASSWORD
}

# dashboard_token FULL: the dashboard token of release FULL, from Secret FULL-dashboard, in DASH_TOKEN
dashboard_token() {
	DASH_TOKEN=$(k get secret "$1-dashboard" -o jsonpath='{.data.token}' | base64 -d)
	[ -n "$DASH_TOKEN" ] || fail "no token in Secret $1-dashboard"
}

# nats_anonymous SERVICE: from a client pod labelled as a NATS client (so the NetworkPolicy lets it
# in), connect to SERVICE's cluster IP without credentials; prints what the server answered
nats_anonymous() {
	local ip
	ip=$(k get service "$1" -o jsonpath='{.spec.clusterIP}')
	client "e2e-anon-$RANDOM" "(printf 'CONNECT {\"verbose\":false,\"pedantic\":false}\\r\\nPING\\r\\n'; sleep 2) | timeout 5 nc $ip 4222 2>&1; true" trellis.dev/nats-client=true
}

# nats_unlabelled SERVICE: the same from a pod without that label; prints what it got (nothing
# where the network plugin enforces the NetworkPolicy)
nats_unlabelled() {
	local ip
	ip=$(k get service "$1" -o jsonpath='{.spec.clusterIP}')
	client "e2e-nolabel-$RANDOM" "timeout 5 nc $ip 4222 </dev/null 2>&1 | head -c 200; true"
}

# portforward VAR TARGET REMOTE_PORT: kubectl port-forward on a free local port, stored in VAR.
# kubectl port-forward exits ("lost connection to pod") when the pod's end resets a connection, as
# NATS does to a client it refuses (no credentials, a failed TLS handshake); so the forward is
# started again on the same local port whenever it exits, and a refused client does not take the
# next step's connection down with it.
portforward() {
	local var=$1 target=$2 remote=$3 log=$WORK/pf-$1.log port=""
	: >"$log"
	(
		pid="" local_port=""
		trap 'kill $pid 2>/dev/null; exit 0' TERM
		while :; do
			"$KUBECTL" -n "$NS" port-forward "$target" "$local_port:$remote" >>"$log" 2>&1 &
			pid=$!
			wait "$pid" || true
			local_port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -1)
			echo "port-forward exited; starting it again on ${local_port:-a free port}" >>"$log"
			sleep 0.2
		done
	) &
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
host_of() { hosts_json | jq -r --arg p "$1" '.hosts[] | select(.friendly_name == $p) | .id'; }
# conditions for retry
hosts_are() { [ "$(hosts_json | jq '.hosts | length')" = "$1" ]; }
ready_endpoints_are() { [ "$(k get endpointslices -l kubernetes.io/service-name="$SVC" -o json | jq '[.items[].endpoints[]? | select(.conditions.ready)] | length')" = "$1" ]; }
service_gone() { ! k get service "$SVC" >/dev/null 2>&1; }
no_pods() { [ -z "$(k get pods -o name)" ]; }
left() {
	k get all,configmaps,secrets,serviceaccounts,roles,rolebindings,persistentvolumeclaims,endpointslices -o name |
		grep -v -x -e configmap/kube-root-ca.crt -e serviceaccount/default || true
}
nothing_left() { [ -z "$(left)" ]; }
# uninstall_leaves_nothing: helm uninstall the release; nothing may be left in the namespace but
# its default ServiceAccount and root CA ConfigMap (the applier's Services go with the
# ServiceAccount that owns them: Kubernetes' garbage collector), which is then deleted.
uninstall_leaves_nothing() {
	"$HELM" uninstall "$RELEASE" -n "$NS" --wait --timeout 3m >&2
	retry 120 no_pods || fail "pods left: $(k get pods -o name)"
	retry 60 nothing_left || true
	local remaining
	remaining=$(left)
	[ -z "$remaining" ] || fail "left in namespace $NS after helm uninstall: $remaining"
	say "namespace $NS holds nothing but its default ServiceAccount and root CA ConfigMap"
	"$KUBECTL" delete namespace "$NS" --wait=false >/dev/null
}

# client NAME SCRIPT [LABELS]: a pod running SCRIPT (sh) with the client image (and more labels,
# K=V,…); waits for it to finish and prints its output
client() {
	local name=$1 script=$2 labels=app.kubernetes.io/name=trellis-e2e-client${3:+,$3}
	k run "$name" --image="$CLIENT_IMAGE" --restart=Never --labels="$labels" \
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
	"$WORK/rpcwatch" --actor "$ACTOR" >"$out.out" 2>"$out.err" &
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

# steady_start NAME MAX_SECONDS: a client pod calling the Service every 0.2 s (each request under
# a 3 s timeout), one line per request ("EPOCH ok" or "EPOCH fail …"), until steady_stop or
# MAX_SECONDS; returns once the pod runs
steady_start() {
	local name=$1 max=$2
	k run "$name" --image="$CLIENT_IMAGE" --restart=Never --labels=app.kubernetes.io/name=trellis-e2e-client --command -- sh -c "
	end=\$((\$(date +%s) + $max)); while [ \$(date +%s) -lt \$end ] && [ ! -e /tmp/stop ]; do
		b=\$(timeout 3 wget -q -O - http://$SVC_IP:8080/ 2>&1) && [ \"\$b\" = '$EXPECT' ] && echo \"\$(date +%s) ok\" || echo \"\$(date +%s) fail \$b\"
		sleep 0.2; done" >/dev/null
	k wait --for=condition=Ready "pod/$name" --timeout=120s >/dev/null || fail "client pod $name did not start"
}
# steady_stop NAME: ends the client, keeps its log in $WORK/NAME.log, sets OK and FAILED (counts)
# and FIRST_FAIL, LAST_FAIL (epoch seconds, empty without failures)
steady_stop() {
	local name=$1
	k exec "$name" -- touch /tmp/stop >/dev/null 2>&1 || true
	k wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=60s >/dev/null || fail "client pod $name did not finish"
	k logs "$name" >"$WORK/$name.log"
	k delete pod "$name" --wait=false >/dev/null
	OK=$(grep -c ' ok$' "$WORK/$name.log" || true)
	FAILED=$(grep -c ' fail' "$WORK/$name.log" || true)
	FIRST_FAIL=$(awk '$2=="fail"{print $1; exit}' "$WORK/$name.log")
	LAST_FAIL=$(awk '$2=="fail"{t=$1} END{print t}' "$WORK/$name.log")
}
