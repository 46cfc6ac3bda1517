#!/usr/bin/env bash
# test/e2e/apps.sh KUBECONFIG REGISTRY - the declarative part of the Kubernetes walkthrough
# (docs/kubernetes.md, "Declarative: apps in the values"), run by `make e2e` after walkthrough.sh on
# the same cluster, in a namespace of its own:
#
#   1. helm install --wait with the echo app in the chart's `apps` value: the echo actor
#      (spreadscaler, 2 instances) linked to the httpserver provider (daemonscaler: one on every
#      host pod, so each pod the Service routes to serves) at 0.0.0.0:8080, and the applier
#      (spreadscaler, 1), on two host replicas as in walkthrough.sh. Without any `trellis ctl`
#      command: `trellis app status echo` (through a port-forward to NATS, logged in with the
#      operator credential from its Secret) names the actor, the
#      applier's Service <actor id, lowercased> appears with two ready endpoints, and
#      `kubectl port-forward svc/<id>` + curl answers the echo body. Requests from a client pod
#      through the Service reach both host pods (test/e2e/rpcwatch counts them by host);
#   2. one host pod is deleted while a client pod keeps calling the Service: its replacement must
#      be Ready and run its share of the app (the app's status counts its host ready, and its
#      inventory has the httpserver provider) within REPLACE_LIMIT seconds (30) of the delete, and
#      no request may fail; the app is back at 2/2 echo instances;
#   3. helm upgrade --wait with version v0.2.0 of the manifest (3 echo instances) rolls the pods
#      (the chart's checksum of its apps, one surge pod, none unavailable) while a client pod calls
#      the Service every 0.2 s: no request may fail; afterwards v0.2.0 is deployed with 3/3 echo
#      instances and both new pods serve;
#   4. helm uninstall leaves nothing in the namespace (no Service of the applier either).
#
# It prints the time of every step, and the figures: install -> curl, the replacement's seconds,
# the requests answered and failed during the delete and the upgrade.
#
# Environment: as walkthrough.sh (TAG, INSECURE, CLUSTER_REGISTRY, RELEASE, E2E_CLIENT_IMAGE,
# KEEP_NAMESPACE, TRELLIS, HELM, KUBECTL), and APPS_NS (the namespace; default
# trellis-e2e-apps-<time>), REPLACE_LIMIT (seconds; default 30). The helpers are in
# test/e2e/lib.sh.
E2E_NS=${APPS_NS:-trellis-e2e-apps-$(date +%s)}
NS=$E2E_NS
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPLACE_LIMIT=${REPLACE_LIMIT:-30}
HOSTPODS=app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=host
HTTP_REF=$CLUSTER_REGISTRY/providers/httpserver:$TAG
APPLIER_REF=$CLUSTER_REGISTRY/providers/applier:$TAG
ECHO_REF=$CLUSTER_REGISTRY/actors/echo:$TAG

# app_values FILE VERSION ECHO_REPLICAS: the install values with the echo app in `apps`
app_values() {
	base_values "$1"
	cat >>"$1" <<EOF
apps:
  - apiVersion: core.oam.dev/v1beta1
    kind: Application
    metadata:
      name: echo
      annotations:
        version: $2
        description: the echo actor behind an HTTP server, with a Kubernetes Service
    spec:
      components:
        - name: echo
          type: actor
          properties:
            image: $ECHO_REF
          traits:
            - type: spreadscaler
              properties:
                replicas: $3
            - type: linkdef
              properties:
                target: httpserver
                values:
                  address: 0.0.0.0:8080
        - name: httpserver
          type: capability
          properties:
            image: $HTTP_REF
            contract: wasmcloud:httpserver
          traits:
            - type: daemonscaler
              properties:
                replicas: 1
        - name: applier
          type: capability
          properties:
            image: $APPLIER_REF
            contract: cosmonic:kubernetes_applier
          traits:
            - type: spreadscaler
              properties:
                replicas: 1
EOF
}

app_json() { "$TRELLIS" app status echo -o json; }
# app_is VERSION: the reconciler reports VERSION deployed, every component at its desired count and
# every link in place
app_is() {
	app_json | jq -e --arg v "$1" '.deployed == $v and .status.version == $v and .status.state == "deployed"
		and ([.status.components[] | select(.actual != .desired)] | length == 0)
		and (.status.links | length > 0) and ([.status.links[] | select(.ready | not)] | length == 0)' >/dev/null
}
echo_actual() { app_json | jq -r '.status.components[] | select(.name == "echo") | "\(.actual)/\(.desired)"'; }
host_pods() { k get pods -l "$HOSTPODS" -o json; }
pod_ready() { host_pods | jq -e --arg p "$1" '.items[] | select(.metadata.name == $p) | .status.conditions[]? | select(.type == "Ready") | .status == "True"' >/dev/null; }
# new_pod OLD...: a host pod, not being deleted, that is none of OLD
new_pod() {
	host_pods | jq -r --arg old "$*" '($old | split(" ")) as $o | .items[]
		| select(.metadata.deletionTimestamp == null) | .metadata.name | select(. as $n | $o | index($n) | not)' | head -1
}
# share_ready HOST_ID: the app's status counts the host ready (for the deployed version), and the
# host runs the httpserver provider (the app's daemonscaler)
share_ready() {
	app_json | jq -e --arg h "$1" '.status.version == .deployed and ([.status.hosts[]? | select(.host_id == $h and .ready)] | length == 1)' >/dev/null &&
		ctl get inventory "$1" -o json | jq -e '[.providers[] | select(.contract_id == "wasmcloud:httpserver")] | length == 1' >/dev/null
}
# only_pods N: N host pods, none being deleted, all ready
only_pods() {
	host_pods | jq -e --argjson n "$1" '(.items | length == $n) and ([.items[] | select(.metadata.deletionTimestamp != null)] | length == 0)
		and ([.items[] | select([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length == 1)] | length == $n)' >/dev/null
}
# pod_timeline POD SINCE_EPOCH: when the pod was created, its container started and it became
# ready, in seconds after SINCE_EPOCH (whole seconds: what the API records)
pod_timeline() {
	host_pods | jq -r --arg p "$1" --argjson t0 "${2%.*}" '.items[] | select(.metadata.name == $p) |
		"created +\((.metadata.creationTimestamp | fromdate) - $t0)s, container started +\(((.status.containerStatuses[0].state.running.startedAt // "") | if . == "" then "?" else (fromdate - $t0 | tostring) end))s, Ready +\(([.status.conditions[]? | select(.type == "Ready" and .status == "True") | .lastTransitionTime | fromdate - $t0][0]) // "?")s"'
}
# on failure: what the lattice and the app looked like, and the failed requests
diagnose() {
	[ -n "${TRELLIS_NATS_URL:-}" ] || return 0
	echo "---- trellis app status echo"
	"$TRELLIS" app status echo || true
	echo "---- trellis app history echo"
	"$TRELLIS" app history echo || true
	echo "---- trellis ctl get hosts / inventory"
	ctl get hosts || true
	ctl get inventory || true
	for f in "$WORK"/e2e-*.log; do
		[ -f "$f" ] || continue
		echo "---- failed requests in $(basename "$f") (of $(wc -l <"$f"))"
		grep ' fail' "$f" | head -20 || true
	done
	echo "---- events"
	k get events --sort-by=.lastTimestamp 2>&1 | tail -40 || true
}
E2E_DIAGNOSE=diagnose

# ---------------------------------------------------------------------------------------------
step "tools"
build_tools
say "namespace $NS, release $RELEASE, images and artifacts from $CLUSTER_REGISTRY (tag $TAG)"

step "helm install --wait with the echo app in the values"
app_values "$WORK/values.yaml" v0.1.0 2
INSTALL_AT=$(now)
"$HELM" install "$RELEASE" charts/trellis -n "$NS" --create-namespace -f "$WORK/values.yaml" --wait --timeout 5m >"$WORK/install.txt" ||
	fail "helm install: $(cat "$WORK/install.txt")"
INSTALLED=$(elapsed "$INSTALL_AT")
FULL=$(k get deployment -l app.kubernetes.io/instance="$RELEASE" -o jsonpath='{.items[0].metadata.name}')
k get pods -o wide >&2
[ "$(k get configmap "$FULL-apps" -o jsonpath='{.data}' | jq -r 'keys | join(",")')" = echo.yaml ] ||
	fail "ConfigMap $FULL-apps does not hold echo.yaml: $(k get configmap "$FULL-apps" -o yaml 2>&1 | head -20)"
say "helm install --wait returned after ${INSTALLED}s"

step "trellis app status (port-forward to NATS, as the operator): the app's actor and the applier's Service"
portforward NATS_PORT "svc/$FULL-nats" 4222
export TRELLIS_NATS_URL=nats://127.0.0.1:$NATS_PORT
nats_operator "$FULL"
retry 60 app_is v0.1.0 || fail "app echo is not deployed at v0.1.0: $("$TRELLIS" app status echo 2>&1)"
ACTOR=$(app_json | jq -r '.status.links[] | select(.target == "httpserver") | .actor_id')
HTTP=$(app_json | jq -r '.status.links[] | select(.target == "httpserver") | .provider_id')
[ -n "$ACTOR" ] && [ "$ACTOR" != null ] || fail "no link to httpserver in the app's status: $(app_json)"
OWNER=$("$TRELLIS" app list -o json | jq -r '.apps[] | select(.name == "echo") | .owner')
[ "$OWNER" = "helm/$RELEASE" ] || fail "app echo is owned by '$OWNER', want helm/$RELEASE"
say "echo $ACTOR linked to httpserver $HTTP, owned by $OWNER"
SVC=$(tr 'A-Z' 'a-z' <<<"$ACTOR")
retry 60 k get service "$SVC" || fail "no Service $SVC: $(k get services 2>&1)"
SVC_AT=$(elapsed "$INSTALL_AT")
k get service "$SVC" -o wide >&2
SVC_IP=$(k get service "$SVC" -o jsonpath='{.spec.clusterIP}')
retry 60 ready_endpoints_are 2 || fail "Service $SVC has not 2 ready endpoints"

step "kubectl port-forward svc/$SVC 8080 + curl"
portforward SVC_PORT "svc/$SVC" 8080
retry 60 curl -sf -m 3 "http://127.0.0.1:$SVC_PORT/" || fail "curl through the port-forward: $(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/" 2>&1)"
BODY=$(curl -sS -m 5 "http://127.0.0.1:$SVC_PORT/")
CURL_AT=$(elapsed "$INSTALL_AT")
say "curl localhost:$SVC_PORT -> $BODY"
[ "$BODY" = "$EXPECT" ] || fail "echo answered $BODY, want $EXPECT"
say "install -> curl: ${CURL_AT}s (helm install --wait ${INSTALLED}s, Service there at ${SVC_AT}s)"
"$TRELLIS" app status echo >&2

step "requests through the Service reach both host pods (httpserver on each: daemonscaler)"
retry 60 hosts_are 2 || fail "hosts: $(ctl get hosts 2>&1)"
mapfile -t HOSTS < <(hosts_json | jq -r '.hosts[].id' | sort)
served_by 40
[ "$(served "${HOSTS[0]}")" -gt 0 ] 2>/dev/null && [ "$(served "${HOSTS[1]}")" -gt 0 ] 2>/dev/null || fail "not served by both hosts: $SERVED"

step "delete one host pod: the replacement is Ready and runs its share within ${REPLACE_LIMIT}s"
mapfile -t OLD < <(host_pods | jq -r '.items[].metadata.name' | sort)
P1=${OLD[0]}
H1=$(host_of "$P1")
[ -n "$H1" ] || fail "no host for pod $P1: $(ctl get hosts 2>&1)"
say "$P1 is host $H1; it runs: $(ctl get inventory "$H1" -o json | jq -c '[(.actors[] | "\(.name)x\(.instances | length)"), (.providers[] | .name)]')"
steady_start e2e-delete 300
sleep 3
DELETED_AT=$(now)
k delete pod "$P1" --wait=false >&2
NEW_POD="" NEW_HOST="" READY_AT="" SHARE_AT="" GONE_AT=""
end=$(($(date +%s) + REPLACE_LIMIT + 90))
while [ -z "$READY_AT" ] || [ -z "$SHARE_AT" ] || [ -z "$GONE_AT" ]; do
	[ "$(date +%s)" -lt $end ] || break
	[ -n "$GONE_AT" ] || k get pod "$P1" >/dev/null 2>&1 || GONE_AT=$(now)
	[ -n "$NEW_POD" ] || NEW_POD=$(new_pod "${OLD[@]}" || true)
	if [ -n "$NEW_POD" ]; then
		[ -n "$READY_AT" ] || ! pod_ready "$NEW_POD" || READY_AT=$(now)
		[ -n "$NEW_HOST" ] || NEW_HOST=$(host_of "$NEW_POD" || true)
		[ -z "$NEW_HOST" ] || [ -n "$SHARE_AT" ] || ! share_ready "$NEW_HOST" || SHARE_AT=$(now)
	fi
	sleep 0.3
done
[ -n "$NEW_POD" ] || fail "no replacement pod for $P1: $(k get pods -o wide 2>&1)"
say "replacement $NEW_POD: $(pod_timeline "$NEW_POD" "$DELETED_AT") (API times, after the delete)"
[ -n "$READY_AT" ] || fail "the replacement pod $NEW_POD is not Ready $((REPLACE_LIMIT + 90))s after the delete"
[ -n "$SHARE_AT" ] || fail "host $NEW_HOST of $NEW_POD does not run its share $((REPLACE_LIMIT + 90))s after the delete: $("$TRELLIS" app status echo 2>&1)"
READY_S=$(between "$DELETED_AT" "$READY_AT")
SHARE_S=$(between "$DELETED_AT" "$SHARE_AT")
GONE_S=$([ -n "$GONE_AT" ] && between "$DELETED_AT" "$GONE_AT" || echo "not yet")
REPLACED_S=$(awk -v a="$READY_S" -v b="$SHARE_S" 'BEGIN{print (a > b ? a : b)}')
say "replacement $NEW_POD (host $NEW_HOST): Ready ${READY_S}s, runs its share ${SHARE_S}s after the delete; the deleted pod was gone after ${GONE_S}s"
ctl get inventory "$NEW_HOST" >&2
retry 60 app_is v0.1.0 || fail "app echo did not come back to its desired counts after the delete: $("$TRELLIS" app status echo 2>&1)"
say "app echo deployed again with $(echo_actual) echo instances, $(elapsed "$DELETED_AT")s after the delete"
sleep 3
steady_stop e2e-delete
DEL_OK=$OK DEL_FAILED=$FAILED
say "client during the delete: $OK answered, $FAILED failed${FIRST_FAIL:+ (failures from +$((FIRST_FAIL - ${DELETED_AT%.*}))s to +$((LAST_FAIL - ${DELETED_AT%.*}))s after the delete)}"
grep ' fail' "$WORK/e2e-delete.log" | head -5 >&2 || true
awk -v a="$REPLACED_S" -v l="$REPLACE_LIMIT" 'BEGIN{exit !(a <= l)}' ||
	fail "the replacement took ${REPLACED_S}s (Ready ${READY_S}s, share ${SHARE_S}s), over ${REPLACE_LIMIT}s"
[ "$OK" -gt 0 ] && [ "$FAILED" = 0 ] || fail "the Service failed $FAILED of $((OK + FAILED)) requests while a pod was replaced"

step "helm upgrade --wait to v0.2.0 of the app (3 echo instances) while a client keeps calling the Service"
app_values "$WORK/values-v2.yaml" v0.2.0 3
mapfile -t OLD < <(host_pods | jq -r '.items[].metadata.name' | sort)
steady_start e2e-upgrade 600
sleep 3
UPGRADE_AT=$(now)
"$HELM" upgrade "$RELEASE" charts/trellis -n "$NS" -f "$WORK/values-v2.yaml" --wait --timeout 5m >"$WORK/upgrade.txt" ||
	fail "helm upgrade: $(cat "$WORK/upgrade.txt")"
UPGRADED_S=$(elapsed "$UPGRADE_AT")
retry 120 only_pods 2 || fail "the old host pods are not gone: $(k get pods -o wide 2>&1)"
ROLLED_S=$(elapsed "$UPGRADE_AT")
mapfile -t NEW < <(host_pods | jq -r '.items[].metadata.name' | sort)
for p in "${NEW[@]}"; do
	for o in "${OLD[@]}"; do [ "$p" != "$o" ] || fail "pod $p was not replaced by the upgrade"; done
	say "new pod $p: $(pod_timeline "$p" "$UPGRADE_AT") (after the upgrade began)"
done
retry 60 app_is v0.2.0 || fail "app echo is not deployed at v0.2.0 with its desired counts: $("$TRELLIS" app status echo 2>&1)"
[ "$(echo_actual)" = 3/3 ] || fail "echo runs $(echo_actual) instances, want 3/3"
sleep 5
steady_stop e2e-upgrade
say "helm upgrade --wait returned after ${UPGRADED_S}s, the old pods were gone after ${ROLLED_S}s"
say "client during the upgrade: $OK answered, $FAILED failed${FIRST_FAIL:+ (failures from +$((FIRST_FAIL - ${UPGRADE_AT%.*}))s to +$((LAST_FAIL - ${UPGRADE_AT%.*}))s after the upgrade began)}"
grep ' fail' "$WORK/e2e-upgrade.log" | head -5 >&2 || true
[ "$OK" -gt 0 ] && [ "$FAILED" = 0 ] || fail "the Service failed $FAILED of $((OK + FAILED)) requests during the upgrade"
"$TRELLIS" app status echo >&2
retry 60 hosts_are 2 || fail "hosts after the upgrade: $(ctl get hosts 2>&1)"
mapfile -t HOSTS < <(hosts_json | jq -r '.hosts[].id' | sort)
served_by 40
[ "$(served "${HOSTS[0]}")" -gt 0 ] 2>/dev/null && [ "$(served "${HOSTS[1]}")" -gt 0 ] 2>/dev/null || fail "not served by both new hosts: $SERVED"

step "helm uninstall leaves nothing (no Service of the applier)"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
unset TRELLIS_NATS_URL
uninstall_leaves_nothing
step "done"
say "PASS: install -> curl ${CURL_AT}s; pod replacement ${REPLACED_S}s (Ready ${READY_S}s, share ${SHARE_S}s), requests during the delete $DEL_OK ok, $DEL_FAILED failed; upgrade ${UPGRADED_S}s: $OK ok, $FAILED failed; the apps part took $(elapsed "$T0")s"
