#!/usr/bin/env bash
# test/e2e/walkthrough.sh KUBECONFIG REGISTRY - the Kubernetes walkthrough of docs/kubernetes.md,
# run as a test against any cluster (the throwaway one of hack/cluster, kind, k3d, a real one):
#
#   1. helm install --wait the chart into a new namespace: two host replicas sharing the cluster
#      key the chart makes, applier support, pods labelled wasmcloud.dev/route-to=true, the chart's
#      NATS;
#   2. the chart's NATS refuses an anonymous connection from a pod (one labelled as a NATS client,
#      so the NetworkPolicy lets it in; whether an unlabelled pod gets through depends on the
#      network plugin, and is said); `trellis ctl` without credentials is refused too; through a
#      port-forward to NATS, `trellis ctl` logged in with the operator credential from its Secret
#      (TRELLIS_NATS_USER/TRELLIS_NATS_PASSWORD, and once with --nats-user/--nats-password) starts
#      the httpserver and applier providers and the echo actor on both hosts, from OCI references in
#      REGISTRY (the hosts run only archives of the account that signed them: host.providerIssuers),
#      and the providers connect with their host's credentials;
#   3. `link put … ADDRESS=0.0.0.0:8080` -> the applier creates Service <actor id, lowercased> ->
#      `kubectl port-forward svc/<id>` -> curl answers the echo body; the dashboard answers through
#      `kubectl port-forward deployment/<release>-trellis`: its API with the token from the chart's
#      Secret, 403 without;
#   4. `trellis ctl call` signed with the chart's cluster key (read from its Secret) answers;
#      `helm upgrade` keeps that key, the NATS passwords and the dashboard token, and does not
#      restart NATS;
#   5. requests through the Service from a client pod reach both host pods (the invocations carry
#      each pod's host id: test/e2e/rpcwatch counts them), and a host pod's metrics port (through
#      a port-forward) counts its echo invocations in /metrics; deleting one host pod while a client
#      keeps calling does not break the Service (only the empty replacement may refuse connections
#      until this script starts its providers: the gap declarative apps close, see apps.sh), and
#      once the replacement host runs the providers and the actor (started by this script, as an
#      operator would), both pods serve again;
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
# RELEASE (default demo, so the host Deployment is demo-trellis), E2E_CLIENT_IMAGE (an image with sh, wget, nc and timeout for the in-cluster clients;
# default busybox:stable), KEEP_NAMESPACE=1 (leave the namespace on failure, for a look),
# TRELLIS (the CLI; default: built from this tree), HELM, KUBECTL.
# Needs: kubectl, jq, curl, go. Prints the time of every step; exits non-zero at the first failure,
# after printing the state of the namespace. The helpers are in test/e2e/lib.sh.
E2E_NS=trellis-e2e-$(date +%s)
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_host() { hosts_json | jq -r '.hosts[].id' | grep -v -x -e "$H1" -e "$H2" | head -1; }
new_host_joined() { [ -n "$(new_host)" ]; }

# ---------------------------------------------------------------------------------------------
step "tools"
build_tools
say "namespace $NS, release $RELEASE, images and artifacts from $CLUSTER_REGISTRY (tag $TAG)"

step "helm install --wait (2 replicas, applier support, the chart's NATS)"
base_values "$WORK/values.yaml"
"$HELM" install "$RELEASE" charts/trellis -n "$NS" --create-namespace -f "$WORK/values.yaml" --wait --timeout 5m >"$WORK/install.txt" ||
	fail "helm install: $(cat "$WORK/install.txt")"
FULL=$(k get deployment -l app.kubernetes.io/instance="$RELEASE" -o jsonpath='{.items[0].metadata.name}')
sed -n '/^NOTES:/,$p' "$WORK/install.txt" | head -12 >&2
k get pods -o wide >&2

step "NATS refuses anonymous connections, from a pod and from trellis ctl"
ANON=$(nats_anonymous "$FULL-nats")
grep -q "Authorization Violation" <<<"$ANON" || fail "an anonymous connection from a pod labelled trellis.dev/nats-client=true was not refused: $ANON"
say "anonymous connection from a pod: $(grep -o -- "-ERR 'Authorization Violation'" <<<"$ANON" | head -1)"
UNLABELLED=$(nats_unlabelled "$FULL-nats")
if grep -q '^INFO ' <<<"$UNLABELLED"; then
	say "a pod without the label reached the NATS port: this cluster's network plugin does not enforce NetworkPolicy (test/chart checks the chart's policy)"
else
	say "a pod without the label got no connection to NATS: the NetworkPolicy is enforced"
fi
portforward NATS_PORT "svc/$FULL-nats" 4222
export TRELLIS_NATS_URL=nats://127.0.0.1:$NATS_PORT
if NOAUTH=$(env -u TRELLIS_NATS_USER -u TRELLIS_NATS_PASSWORD "$TRELLIS" ctl get hosts 2>&1); then
	fail "trellis ctl without credentials was let in: $NOAUTH"
fi
grep -qi "authorization" <<<"$NOAUTH" || fail "trellis ctl without credentials failed otherwise than with an authorization error: $NOAUTH"
say "trellis ctl without credentials: $(head -1 <<<"$NOAUTH")"

step "trellis ctl with the operator credential from Secret $FULL-nats-operator: two hosts"
nats_operator "$FULL"
retry 90 hosts_are 2 || fail "hosts: $(ctl get hosts 2>&1)"
ctl get hosts >&2
FLAGS_HOSTS=$(env -u TRELLIS_NATS_USER -u TRELLIS_NATS_PASSWORD "$TRELLIS" ctl get hosts -o json --nats-user "$TRELLIS_NATS_USER" --nats-password "$TRELLIS_NATS_PASSWORD" | jq '.hosts | length') ||
	fail "trellis ctl --nats-user --nats-password: $FLAGS_HOSTS"
[ "$FLAGS_HOSTS" = 2 ] || fail "trellis ctl --nats-user --nats-password lists $FLAGS_HOSTS hosts, want 2"
say "as $TRELLIS_NATS_USER (environment, and flags): 2 hosts"
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
NOTOKEN=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$DASH_PORT/api/hosts")
[ "$NOTOKEN" = 403 ] || fail "the dashboard answered /api/hosts without its token with $NOTOKEN, want 403"
dashboard_token "$FULL"
DASH_HOSTS=$(curl -sf -m 5 -H "Authorization: Bearer $DASH_TOKEN" "http://127.0.0.1:$DASH_PORT/api/hosts" | jq length)
say "dashboard: /api/readyz ok, page ok, /api/hosts without the token 403, with the token of Secret $FULL-dashboard lists $DASH_HOSTS hosts"
[ "$DASH_HOSTS" = 2 ] || fail "the dashboard lists $DASH_HOSTS hosts, want 2"

step "trellis ctl call signed with the chart's cluster key; helm upgrade keeps the key"
KEY=$(k get secret "$FULL-cluster" -o jsonpath='{.data.clusterSeed}')
[ -n "$KEY" ] || fail "no clusterSeed in Secret $FULL-cluster"
base64 -d <<<"$KEY" >"$WORK/cluster.key"
CALL=$(ctl call --cluster-seed "$WORK/cluster.key" "$ACTOR" HttpServer.HandleRequest '{"method":"GET","path":"/","queryString":"","header":{},"body":""}' 2>&1) ||
	fail "ctl call: $CALL"
grep -qF "body: $EXPECT" <<<"$CALL" || fail "ctl call answered $CALL, want the body $EXPECT"
secrets_now() { for s in nats-host nats-operator nats-config dashboard; do k get secret "$FULL-$s" -o jsonpath='{.data}'; echo; done; }
SECRETS=$(secrets_now)
NATS_POD_UID=$(k get pod "$FULL-nats-0" -o jsonpath='{.metadata.uid}')
"$HELM" upgrade "$RELEASE" charts/trellis -n "$NS" --reuse-values --wait --timeout 5m >"$WORK/upgrade.txt" ||
	fail "helm upgrade: $(cat "$WORK/upgrade.txt")"
[ "$(k get secret "$FULL-cluster" -o jsonpath='{.data.clusterSeed}')" = "$KEY" ] || fail "helm upgrade changed the cluster key"
[ "$(secrets_now)" = "$SECRETS" ] || fail "helm upgrade changed the NATS users' Secrets, the NATS configuration or the dashboard token"
[ "$(k get pod "$FULL-nats-0" -o jsonpath='{.metadata.uid}')" = "$NATS_POD_UID" ] || fail "helm upgrade restarted NATS"
retry 30 hosts_are 2 || fail "hosts after the upgrade: $(ctl get hosts 2>&1)"
say "ctl call with the key of Secret $FULL-cluster answered the echo body; helm upgrade kept the key, the NATS passwords (and their hashes), the dashboard token and the NATS pod"

step "requests through the Service reach both host pods"
served_by 40
[ "$(served "$H1")" -gt 0 ] 2>/dev/null && [ "$(served "$H2")" -gt 0 ] 2>/dev/null || fail "not served by both hosts: $SERVED"

step "kubectl port-forward pod/<host 2> 9090: /metrics counts its echo invocations"
P2=$(pod_of "$H2")
portforward METRICS_PORT "pod/$P2" 9090
retry 30 curl -sf -m 3 "http://127.0.0.1:$METRICS_PORT/readyz" || fail "metrics /readyz of $P2: $(curl -sS -m 3 "http://127.0.0.1:$METRICS_PORT/readyz" 2>&1)"
curl -sf -m 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt" || fail "GET /metrics of $P2: $(curl -sS -m 5 "http://127.0.0.1:$METRICS_PORT/metrics" 2>&1 | head -3)"
ECHO_CALLS=$(awk -v id="$ACTOR" '$1 ~ /^wasmcloud_host_component_invocations_total\{/ && index($1, "component_id=\"" id "\"") && index($1, "operation=\"HttpServer.HandleRequest\"") {n += $2} END {print n + 0}' "$WORK/metrics.txt")
say "$P2 /metrics: wasmcloud_host_component_invocations_total of echo = $ECHO_CALLS; $(grep -c '' "$WORK/metrics.txt") lines"
[ "${ECHO_CALLS%.*}" -gt 0 ] 2>/dev/null || fail "no echo invocations in /metrics of $P2: $(grep -E '^(wasmcloud|trellis)_' "$WORK/metrics.txt" | head -20)"
grep -q '^trellis_host_nats_connected 1$' "$WORK/metrics.txt" || fail "$P2 /metrics: trellis_host_nats_connected is not 1"
grep -q "^trellis_host_provider_state{.*provider=\"$HTTP\".*state=\"running\"} 1$" "$WORK/metrics.txt" || fail "$P2 /metrics: the httpserver provider is not running: $(grep '^trellis_host_provider_state' "$WORK/metrics.txt")"

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
# Imperatively, a replacement pod joins empty and is Ready at once, so the Service may send it
# connections it refuses until this script has started the providers on it (docs/kubernetes.md
# §6; the declarative part, apps.sh, asserts zero failures through the same replacement). Only
# refusals in that window are tolerated here, and said.
OUTSIDE=$(awk -v from="$JOINED_AT" -v to="$((RESTORED_AT + 3))" '/ fail/ && !(/Connection refused/ && $1 >= from - 5 && $1 <= to) {n++} END {print n + 0}' "$WORK/steady.log")
[ "$OK" -gt 0 ] && [ "$OUTSIDE" = 0 ] || fail "the Service failed $OUTSIDE of $((OK + FAILED)) requests while a pod was replaced, other than refusals by the empty replacement"
[ "$FAILED" = 0 ] || say "$FAILED requests refused by the replacement pod before its providers ran (the imperative gap that apps close)"
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
uninstall_leaves_nothing
step "done"
say "PASS: the walkthrough took $(elapsed "$T0")s"
