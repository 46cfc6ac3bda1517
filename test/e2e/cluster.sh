#!/usr/bin/env bash
# test/e2e/cluster.sh KUBECONFIG REGISTRY - the walkthrough on a NATS cluster, run by `make e2e`
# after the other parts on the same cluster, in a namespace of its own:
#
#   1. helm install --wait with nats.cluster.enabled=true: three NATS pods (a StatefulSet whose
#      servers route to each other through the headless Service, JetStream on each) and one host,
#      whose URL lists the three servers and which creates the lattice's buckets with
#      TRELLIS_JS_REPLICAS=3;
#   2. through a port-forward to the NATS Service (as the operator), the httpserver and applier
#      providers and the echo actor started on the host and linked at 0.0.0.0:8080: curl through
#      `kubectl port-forward svc/<the applier's Service>` answers the echo body; the lattice bucket
#      KV_LATTICEDATA_<lattice> has three replicas (the servers' monitoring endpoint, /jsz, says so,
#      and which server leads it);
#   3. while curl calls the actor through that port-forward every 0.2 s, the NATS pod leading the
#      bucket is deleted; the StatefulSet is ready again (three servers, the new pod caught up), curl
#      answers again, and the failed requests are counted and printed;
#   4. after the loss: the link is still there (`trellis ctl get links`), the bucket has a leader
#      among the servers, and a link del and a link put work (the applier deletes the Service and
#      makes it again, and curl answers through it).
#
# Environment: as walkthrough.sh, and CLUSTER_NS (the namespace; default
# trellis-e2e-cluster-<time>). The helpers are in test/e2e/lib.sh.
E2E_NS=${CLUSTER_NS:-trellis-e2e-cluster-$(date +%s)}
NS=$E2E_NS
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NATSPODS=app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=nats

nats_pods() { k get pods -l "$NATSPODS" -o json; }
# nats_ready N: N NATS pods, none being deleted, all ready
nats_ready() {
	nats_pods | jq -e --argjson n "$1" '(.items | length == $n) and ([.items[] | select(.metadata.deletionTimestamp == null)
		| select([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length == 1)] | length == $n)' >/dev/null
}
pod_uid() { k get pod "$1" -o jsonpath='{.metadata.uid}' 2>/dev/null; }
# replaced POD UID: POD is there again, with another UID, and the StatefulSet has 3 ready servers
replaced() { local u; u=$(pod_uid "$1") && [ -n "$u" ] && [ "$u" != "$2" ] && nats_ready 3; }
# stream_json MONITOR_PORT: the lattice bucket's stream as the server behind the port sees it
stream_json() {
	curl -sf -m 3 "http://127.0.0.1:$1/jsz?accounts=true&streams=true&config=true" |
		jq -ce --arg s "$STREAM" '[.account_details[]?.stream_detail[]? | select(.name == $s)][0] // empty'
}
stream_led() { [ -n "$(stream_json "$1" | jq -r '.cluster.leader // empty')" ]; }
link_there() {
	ctl get links -o json | jq -e --arg a "$ACTOR" --arg p "$HTTP" \
		'[.links[] | select(.actor_id == $a and .provider_id == $p and .contract_id == "wasmcloud:httpserver")] | length == 1' >/dev/null
}
curl_answered() { [ "$(grep -c ' ok$' "$WORK/curl.log")" -ge 5 ]; }
curl_ok() { [ "$(curl -sS -m 3 "http://127.0.0.1:$1/" 2>/dev/null)" = "$EXPECT" ]; }
service_there() { k get service "$SVC" >/dev/null 2>&1; }
diagnose() {
	[ -n "${TRELLIS_NATS_URL:-}" ] || return 0
	echo "---- trellis ctl get hosts / inventory / links"
	ctl get hosts || true
	ctl get inventory || true
	ctl get links || true
	[ -f "$WORK/curl.log" ] && { echo "---- failed requests (of $(wc -l <"$WORK/curl.log"))"; grep -v ' ok$' "$WORK/curl.log" | head -20; }
	echo "---- events"
	k get events --sort-by=.lastTimestamp 2>&1 | tail -40 || true
}
E2E_DIAGNOSE=diagnose

# ---------------------------------------------------------------------------------------------
step "tools"
build_tools
say "namespace $NS, release $RELEASE, images and artifacts from $CLUSTER_REGISTRY (tag $TAG)"
STREAM=KV_LATTICEDATA_$TRELLIS_LATTICE

step "helm install --wait with nats.cluster.enabled=true (3 NATS servers, one host)"
base_values "$WORK/values.yaml"
INSTALL_AT=$(now)
"$HELM" install "$RELEASE" charts/trellis -n "$NS" --create-namespace -f "$WORK/values.yaml" --set replicaCount=1 \
	--set nats.cluster.enabled=true --wait --timeout 6m >"$WORK/install.txt" || fail "helm install: $(cat "$WORK/install.txt")"
say "helm install --wait returned after $(elapsed "$INSTALL_AT")s"
FULL=$RELEASE-trellis
k get pods -o wide >&2
nats_ready 3 || fail "not 3 ready NATS pods: $(k get pods -l "$NATSPODS" 2>&1)"
ENV=$(k get deployment "$FULL" -o json | jq -c '[.spec.template.spec.containers[0].env[] | {(.name): .value}] | add')
URLS=$(jq -r '.TRELLIS_NATS_URL' <<<"$ENV")
[ "$(tr ',' '\n' <<<"$URLS" | grep -c "^nats://$FULL-nats-[0-2]\.$FULL-nats-headless:4222$")" = 3 ] ||
	fail "the hosts' NATS URL does not list the three servers: $URLS"
[ "$(jq -r '.TRELLIS_JS_REPLICAS' <<<"$ENV")" = 3 ] || fail "the hosts do not get TRELLIS_JS_REPLICAS=3: $ENV"
say "the host connects to $URLS"

step "trellis ctl (port-forward to the NATS Service): httpserver, applier, echo, link -> Service -> curl"
portforward NATS_PORT "svc/$FULL-nats" 4222
export TRELLIS_NATS_URL=nats://127.0.0.1:$NATS_PORT
nats_operator "$FULL"
retry 60 hosts_are 1 || fail "hosts: $(ctl get hosts 2>&1)"
H1=$(hosts_json | jq -r '.hosts[0].id')
HTTP=$(ctl start provider "$CLUSTER_REGISTRY/providers/httpserver:$TAG" --host-id "$H1" --timeout 90s -o json | jq -r .id)
APPLIER=$(ctl start provider "$CLUSTER_REGISTRY/providers/applier:$TAG" --host-id "$H1" --timeout 90s -o json | jq -r .id)
ACTOR=$(ctl start actor "$CLUSTER_REGISTRY/actors/echo:$TAG" --host-id "$H1" --timeout 90s -o json | jq -r .id)
[[ $HTTP == V* ]] && [[ $APPLIER == V* ]] && [[ $ACTOR == M* ]] || fail "start: httpserver '$HTTP', applier '$APPLIER', actor '$ACTOR'"
ctl link put "$ACTOR" "$HTTP" wasmcloud:httpserver ADDRESS=0.0.0.0:8080 >&2
SVC=$(tr 'A-Z' 'a-z' <<<"$ACTOR")
retry 60 service_there || fail "no Service $SVC: $(k get services 2>&1)"
portforward SVC_PORT "svc/$SVC" 8080
retry 60 curl_ok "$SVC_PORT" || fail "curl through the port-forward: $(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/" 2>&1)"
say "curl through svc/$SVC -> $(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/")"

step "the lattice bucket $STREAM: three replicas, and its leader"
portforward MON0 "pod/$FULL-nats-0" 8222
retry 30 stream_led "$MON0" || fail "no leader of $STREAM: $(curl -sS -m 3 "http://127.0.0.1:$MON0/jsz?accounts=true&streams=true" 2>&1 | head -c 600)"
S=$(stream_json "$MON0")
REPLICAS=$(jq -r '.config.num_replicas' <<<"$S")
LEADER=$(jq -r '.cluster.leader' <<<"$S")
say "$STREAM: $REPLICAS replicas, led by $LEADER; the other copies as $FULL-nats-0 sees them: $(jq -c '[.cluster.replicas[]? | {name, current}]' <<<"$S")"
[ "$REPLICAS" = 3 ] || fail "$STREAM has $REPLICAS replicas, want 3 (the hosts create the buckets with --js-replicas, TRELLIS_JS_REPLICAS=3)"
[[ $LEADER == "$FULL-nats-"[0-2] ]] || fail "the leader $LEADER is not one of the NATS pods"

step "delete $LEADER (the bucket's leader) while curl calls the actor every 0.2 s"
(
	trap 'exit 0' TERM
	while [ ! -e "$WORK/curl.stop" ]; do
		if b=$(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/" 2>&1) && [ "$b" = "$EXPECT" ]; then
			echo "$(date +%s.%N) ok"
		else
			echo "$(date +%s.%N) fail ${b//$'\n'/ }"
		fi
		sleep 0.2
	done
) >"$WORK/curl.log" &
PIDS+=($!)
CURL_PID=$!
retry 30 curl_answered || fail "curl does not answer before the delete: $(tail -3 "$WORK/curl.log")"
OLD_UID=$(pod_uid "$LEADER")
DELETED_AT=$(now)
k delete pod "$LEADER" --wait=false >&2
retry 150 replaced "$LEADER" "$OLD_UID" || fail "the StatefulSet is not ready again: $(k get pods -l "$NATSPODS" -o wide 2>&1)"
READY_AT=$(elapsed "$DELETED_AT")
RECOVERED=$(now)
say "$LEADER replaced, 3 NATS servers ready ${READY_AT}s after the delete"
retry 60 curl_ok "$SVC_PORT" || fail "curl does not answer after the loss: $(curl -sS -m 3 "http://127.0.0.1:$SVC_PORT/" 2>&1)"
# a few more answers after the recovery, then the loop ends
sleep 2
touch "$WORK/curl.stop"
wait "$CURL_PID" 2>/dev/null || true
OK=$(grep -c ' ok$' "$WORK/curl.log" || true)
FAILED=$(grep -c ' fail' "$WORK/curl.log" || true)
FAILED_AFTER=$(awk -v t="${DELETED_AT%.*}" '$2 == "fail" && $1 >= t' "$WORK/curl.log" | wc -l)
say "requests during the loss: $OK answered, $FAILED failed ($FAILED_AFTER after the delete)"
if [ "$FAILED" -gt 0 ]; then
	say "failed requests (first 5):"
	grep ' fail' "$WORK/curl.log" | head -5 >&2
fi
OK_AFTER=$(awk -v t="$RECOVERED" '$2 == "ok" && $1 >= t' "$WORK/curl.log" | wc -l)
[ "$OK_AFTER" -gt 0 ] || fail "no request answered after the StatefulSet was ready again: $(tail -3 "$WORK/curl.log")"

step "after the loss: the link is there, the bucket has a leader, link del and link put work"
retry 30 link_there || fail "the link is gone: $(ctl get links 2>&1)"
ctl get links >&2
SURVIVOR=$FULL-nats-0
[ "$LEADER" = "$SURVIVOR" ] && SURVIVOR=$FULL-nats-1
portforward MON1 "pod/$SURVIVOR" 8222
retry 30 stream_led "$MON1" || fail "no leader of $STREAM after the loss"
say "$STREAM now led by $(stream_json "$MON1" | jq -r .cluster.leader) (as $SURVIVOR sees it)"
"$TRELLIS" lattice status >&2 || true
ctl link del "$ACTOR" wasmcloud:httpserver >&2
retry 60 service_gone || fail "link del: Service $SVC is still there"
ctl link put "$ACTOR" "$HTTP" wasmcloud:httpserver ADDRESS=0.0.0.0:8080 >&2
retry 60 service_there || fail "link put after the loss: no Service $SVC"
retry 30 link_there || fail "link put after the loss: the link is not listed: $(ctl get links 2>&1)"
portforward SVC2_PORT "svc/$SVC" 8080
retry 60 curl_ok "$SVC2_PORT" || fail "curl after the link put: $(curl -sS -m 3 "http://127.0.0.1:$SVC2_PORT/" 2>&1)"
say "link del and link put after the loss: the Service went and came back; curl -> $(curl -sS -m 3 "http://127.0.0.1:$SVC2_PORT/")"

step "done"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
say "PASS: the NATS cluster part took $(elapsed "$T0")s (NATS pod replaced in ${READY_AT}s; $FAILED of $((OK + FAILED)) requests failed)"
