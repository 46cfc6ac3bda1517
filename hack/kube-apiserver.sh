#!/usr/bin/env bash
# hack/kube-apiserver.sh [CACHE_DIR] - kube-apiserver for the applier's tests, built from
# k8s.io/kubernetes fetched from the Go module proxy (no git, no Docker) by hack/cluster/build.sh,
# into CACHE_DIR/bin/kube-apiserver. The default CACHE_DIR is the local cluster's
# (~/.cache/trellis/cluster), so the tests and `make e2e` build it once between them.
#
# Cached: when the binary there already reports v$KVER the script does nothing. The last line of
# stdout is the binary's path, so `export TRELLIS_KUBE_APISERVER=$(hack/kube-apiserver.sh)` works.
# Cold it takes several minutes on two cores (most of it compiling); cached, well under a second.
#
# Environment: KVER (default 1.31.4, matching the k8s.io/client-go v0.31.x the applier uses),
# TRELLIS_CLUSTER_DIR (the default CACHE_DIR).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KVER=${KVER:-1.31.4}
DIR=${1:-${TRELLIS_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/cluster}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
BIN=$DIR/bin/kube-apiserver

have() { [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -qx "Kubernetes v$KVER"; }

if ! have; then
	TRELLIS_CLUSTER_DIR=$DIR bash "$HERE/cluster/build.sh" kube-apiserver >/dev/null
	have || { echo "kube-apiserver.sh: $BIN does not report v$KVER" >&2; exit 1; }
fi
echo "$BIN"
