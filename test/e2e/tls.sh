#!/usr/bin/env bash
# test/e2e/tls.sh KUBECONFIG REGISTRY - the TLS variant of the walkthrough, run by `make e2e` after
# walkthrough.sh and apps.sh on the same cluster, in a namespace of its own:
#
#   1. a private CA and a server certificate for the chart's NATS Service (and 127.0.0.1, for the
#      port-forward) made with openssl, in a Secret shaped like cert-manager's (tls.crt, tls.key,
#      ca.crt);
#   2. helm install --wait with nats.tls on (and the default authentication, on a lattice named
#      tls, so the users' permissions are those of another lattice than default): the host pods connect
#      to tls://<fullname>-nats and verify it with the CA (TRELLIS_NATS_TLS_CA), or they would
#      never be ready;
#   3. through a port-forward, `trellis ctl` over tls:// without the CA is refused (the certificate
#      is not trusted), with the CA (--nats-tls-ca, TRELLIS_NATS_TLS_CA) and the operator
#      credential it lists the host;
#   4. the httpserver provider and the echo actor started on the host, linked at 0.0.0.0:8080:
#      curl through a port-forward to the host pod answers the echo body, so the provider connected
#      to the lattice over TLS with its host's CA and credentials.
#
# Environment: as walkthrough.sh, and TLS_NS (the namespace; default trellis-e2e-tls-<time>).
# Needs openssl. The helpers are in test/e2e/lib.sh.
E2E_NS=${TLS_NS:-trellis-e2e-tls-$(date +%s)}
NS=$E2E_NS
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || { echo "$SCRIPT: openssl is missing (Debian: apt-get install openssl)" >&2; exit 1; }

step "tools"
build_tools
say "namespace $NS, release $RELEASE, images and artifacts from $CLUSTER_REGISTRY (tag $TAG)"

step "a private CA and a certificate for the NATS Service, in a Secret like cert-manager's"
FULL=$RELEASE-trellis
SVCNAME=$FULL-nats
C=$WORK/certs
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=trellis e2e CA" \
	-keyout "$C/ca.key" -out "$C/ca.crt" 2>"$C/openssl.log" || fail "openssl (CA): $(cat "$C/openssl.log")"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$SVCNAME" \
	-keyout "$C/tls.key" -out "$C/tls.csr" 2>>"$C/openssl.log" || fail "openssl (key): $(cat "$C/openssl.log")"
printf 'subjectAltName=DNS:%s,DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
	"$SVCNAME" "$SVCNAME" "$NS" "$SVCNAME" "$NS" >"$C/ext.cnf"
openssl x509 -req -in "$C/tls.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial -days 2 -extfile "$C/ext.cnf" \
	-out "$C/tls.crt" 2>>"$C/openssl.log" || fail "openssl (certificate): $(cat "$C/openssl.log")"
"$KUBECTL" create namespace "$NS" >/dev/null
k create secret generic nats-cert --type=kubernetes.io/tls --from-file="$C/tls.crt" --from-file="$C/tls.key" --from-file="$C/ca.crt" >/dev/null
say "Secret nats-cert: a certificate for $SVCNAME (and 127.0.0.1) from a CA of this run"

step "helm install --wait with nats.tls (one host)"
base_values "$WORK/values.yaml"
cat >>"$WORK/values.yaml" <<VALUES
  lattice: tls
VALUES
"$HELM" install "$RELEASE" charts/trellis -n "$NS" -f "$WORK/values.yaml" --set replicaCount=1 --set nats.tls.enabled=true \
	--set nats.tls.secretName=nats-cert --wait --timeout 5m >"$WORK/install.txt" || fail "helm install: $(cat "$WORK/install.txt")"
[ "$(k get deployment "$FULL" -o json | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "TRELLIS_NATS_URL") | .value')" = "tls://$SVCNAME:4222" ] ||
	fail "the hosts do not connect to tls://$SVCNAME:4222"
k get pods -o wide >&2
export TRELLIS_LATTICE=tls

step "trellis ctl over tls:// through a port-forward: untrusted without the CA, the host with it"
portforward NATS_PORT "svc/$SVCNAME" 4222
export TRELLIS_NATS_URL=tls://127.0.0.1:$NATS_PORT
nats_operator "$FULL"
if NOCA=$(ctl get hosts 2>&1); then fail "trellis ctl trusted the server without its CA: $NOCA"; fi
grep -qi "certificate" <<<"$NOCA" || fail "trellis ctl without the CA failed otherwise than on the certificate: $NOCA"
say "without the CA: $(head -1 <<<"$NOCA")"
FLAG_HOSTS=$(ctl get hosts -o json --nats-tls-ca "$C/ca.crt" | jq '.hosts | length') || fail "trellis ctl --nats-tls-ca: $FLAG_HOSTS"
[ "$FLAG_HOSTS" = 1 ] || fail "trellis ctl --nats-tls-ca lists $FLAG_HOSTS hosts, want 1"
export TRELLIS_NATS_TLS_CA=$C/ca.crt
retry 60 hosts_are 1 || fail "hosts: $(ctl get hosts 2>&1)"
ctl get hosts >&2
H1=$(hosts_json | jq -r '.hosts[0].id')

step "a provider over TLS: httpserver and echo, linked, answer curl"
HTTP=$(ctl start provider "$CLUSTER_REGISTRY/providers/httpserver:$TAG" --host-id "$H1" --timeout 90s -o json | jq -r .id)
ACTOR=$(ctl start actor "$CLUSTER_REGISTRY/actors/echo:$TAG" --host-id "$H1" --timeout 90s -o json | jq -r .id)
[[ $HTTP == V* ]] && [[ $ACTOR == M* ]] || fail "start: provider '$HTTP', actor '$ACTOR'"
ctl link put "$ACTOR" "$HTTP" wasmcloud:httpserver ADDRESS=0.0.0.0:8080 >&2
portforward HTTP_PORT "deployment/$FULL" 8080
retry 60 curl -sf -m 3 "http://127.0.0.1:$HTTP_PORT/" || fail "curl through the port-forward: $(curl -sS -m 3 "http://127.0.0.1:$HTTP_PORT/" 2>&1)"
BODY=$(curl -sS -m 5 "http://127.0.0.1:$HTTP_PORT/")
[ "$BODY" = "$EXPECT" ] || fail "echo answered $BODY, want $EXPECT"
say "curl -> $BODY (the httpserver provider is connected over TLS)"
ctl get inventory "$H1" >&2

step "done"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
say "PASS: the TLS variant took $(elapsed "$T0")s"
