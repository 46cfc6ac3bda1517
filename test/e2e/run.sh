#!/usr/bin/env bash
# test/e2e/run.sh - what `make e2e` runs:
#
#   with KUBECONFIG set: REGISTRY is required (reachable from here, the nodes and the pods);
#   without: a throwaway single-node cluster on this machine (hack/cluster: needs root, no Docker;
#     the Kubernetes binaries are built once into ~/.cache/trellis/cluster), whose registry is
#     used, and which is torn down at the end (KEEP_CLUSTER=1 keeps it running);
#
# then `make images push-providers push-actors` to REGISTRY, test/e2e/walkthrough.sh (the
# imperative walkthrough: `trellis ctl` starts and links) and test/e2e/apps.sh (the declarative one:
# the echo app in the chart's values), test/e2e/tls.sh (the chart's NATS with TLS from a private
# CA) and test/e2e/cluster.sh (a three-server NATS cluster, one server of which is deleted under
# load), one after the other on the same cluster, each in a namespace of its own. Prints how long
# each phase took. Environment: KUBECONFIG, REGISTRY, TAG, INSECURE, KEEP_CLUSTER, E2E_PARTS
# (default "walkthrough apps tls cluster": which of the four run), and what
# walkthrough.sh and apps.sh read. E2E_PAR_PLATFORMS (default linux/<go env GOARCH>) are the platforms
# the provider archives are built for here (the Makefile's default is amd64 and arm64).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

T0=$(date +%s)
PHASES=()
phase() { # NAME CMD...: run, remember its time
	local s name=$1
	s=$(date +%s)
	shift
	echo "[e2e] == $name" >&2
	"$@"
	PHASES+=("$(printf '%-28s %4ss' "$name" $(($(date +%s) - s)))")
}
report() { # EXIT_CODE
	local rc=$1
	echo "[e2e] phases:" >&2
	for p in "${PHASES[@]}"; do echo "[e2e]   $p" >&2; done
	echo "[e2e] total $(($(date +%s) - T0))s, exit $rc" >&2
}
trap 'report $?' EXIT

if [ -z "${KUBECONFIG:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "run.sh: no KUBECONFIG, and the local cluster needs root (or give KUBECONFIG and REGISTRY)" >&2; exit 1; }
	D=${TRELLIS_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/cluster}
	export PATH=$D/bin:$PATH
	phase "cluster: Debian packages" hack/cluster/deps.sh
	phase "cluster: build binaries" hack/cluster/build.sh >/dev/null
	teardown() {
		local rc=$?
		if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
			echo "[e2e] cluster kept (KEEP_CLUSTER=1): export KUBECONFIG=$D/admin.kubeconfig; hack/cluster/down.sh --purge stops it" >&2
		else
			s=$(date +%s)
			hack/cluster/down.sh --purge
			PHASES+=("$(printf '%-28s %4ss' "cluster: down" $(($(date +%s) - s)))")
		fi
		report $rc
		exit $rc
	}
	trap teardown EXIT
	phase "cluster: up" hack/cluster/up.sh >"$D.up.out"
	KUBECONFIG=$(tail -1 "$D.up.out")
	export KUBECONFIG
	REGISTRY=${REGISTRY:-$(sed -n 's/^REGISTRY=//p' "$D.up.out")}
	export INSECURE=${INSECURE:-1}
	rm -f "$D.up.out"
fi
[ -n "${REGISTRY:-}" ] || { echo "run.sh: KUBECONFIG is set: give REGISTRY too (where images, providers and actors go)" >&2; exit 1; }
export REGISTRY
[ -n "${INSECURE:-}" ] || case $REGISTRY in 127.0.0.1:* | localhost:*) export INSECURE=1 ;; esac
MAKEVARS=(REGISTRY="$REGISTRY" INSECURE="${INSECURE:-}")
[ -n "${TAG:-}" ] && MAKEVARS+=(TAG="$TAG")

phase "images: build and push" make --no-print-directory images "${MAKEVARS[@]}"
phase "providers and actors: push" make --no-print-directory push-providers push-actors "${MAKEVARS[@]}" \
	PAR_PLATFORMS="${E2E_PAR_PLATFORMS:-linux/$(go env GOARCH)}" PAR_DIR=build/e2e/providers
for part in ${E2E_PARTS:-walkthrough apps tls cluster}; do
	case $part in
	walkthrough) phase "walkthrough" test/e2e/walkthrough.sh "$KUBECONFIG" "$REGISTRY" ;;
	apps) phase "walkthrough: apps" test/e2e/apps.sh "$KUBECONFIG" "$REGISTRY" ;;
	tls) phase "walkthrough: TLS" test/e2e/tls.sh "$KUBECONFIG" "$REGISTRY" ;;
	cluster) phase "walkthrough: NATS cluster" test/e2e/cluster.sh "$KUBECONFIG" "$REGISTRY" ;;
	*) echo "run.sh: unknown part $part in E2E_PARTS (walkthrough, apps, tls, cluster)" >&2; exit 2 ;;
	esac
done
