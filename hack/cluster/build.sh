#!/usr/bin/env bash
# hack/cluster/build.sh [component...] - build what hack/cluster/up.sh runs, from the Go module
# proxy only (no git, no Docker, no downloads of release tarballs):
#   kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl  (k8s.io/kubernetes@v$KVER)
#   coredns (github.com/coredns/coredns), pause (hack/cluster/pause, the pod sandbox).
# (helm and crane come from hack/tools.sh.)
# Everything lands in $TRELLIS_CLUSTER_DIR/bin (default ~/.cache/trellis/cluster/bin). A component
# whose binary is already there at the wanted version is skipped (FORCE=1 rebuilds). Cold, the
# Kubernetes binaries take several minutes on two cores; cached, this script takes about a second.
#
# The published k8s.io/kubernetes module points every k8s.io/* staging module at ./staging/src,
# which the proxy does not ship: the tree is copied out of the module cache, vendor/ and go.work are
# dropped and each staging replace is pointed at the published k8s.io/X@v0.MINOR.PATCH module.
# Binaries are stamped with the real version (-ldflags -X): without it they report v0.0.0-master,
# which breaks helm's kubeVersion checks.
set -euo pipefail

KVER=${KVER:-1.31.4}
COREDNS_VERSION=${COREDNS_VERSION:-v1.11.3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${TRELLIS_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/cluster}
OUT=$D/bin
TREE=$D/src/kubernetes-$KVER
MINOR=$(echo "$KVER" | cut -d. -f2)
K8S="kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl"
ALL="$K8S coredns pause"
mkdir -p "$OUT"
export GOWORK=off GOFLAGS=-buildvcs=false

log() { echo "build.sh: $*" >&2; }
# the version a component is built at; a binary built at another one is rebuilt
want() { case $1 in coredns) echo "$COREDNS_VERSION";; pause) echo 1;; *) echo "v$KVER";; esac; }
need() { [ "${FORCE:-0}" = 1 ] || [ ! -x "$OUT/$1" ] || [ "$(cat "$OUT/.$1.version" 2>/dev/null)" != "$(want "$1")" ]; }

prepare_tree() {
	exec 8>"$D/.tree.lock"   # one preparation at a time per cache dir
	flock 8
	[ -f "$TREE/go.mod" ] && ! grep -q '=> ./staging' "$TREE/go.mod" && return
	local s mod
	s=$(date +%s)
	mod=$(cd "$D" && go mod download -json "k8s.io/kubernetes@v$KVER" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	[ -n "$mod" ] || { log "go mod download k8s.io/kubernetes@v$KVER failed"; exit 1; }
	rm -rf "$TREE"; mkdir -p "$(dirname "$TREE")"
	cp -r "$mod" "$TREE"; chmod -R u+w "$TREE"
	( cd "$TREE"
	  rm -rf vendor go.work go.work.sum
	  for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' go.mod); do
		go mod edit -dropreplace="$m" -replace="$m=$m@v0.${KVER#1.}"
	  done )
	log "prepared k8s.io/kubernetes@v$KVER in $(( $(date +%s) - s ))s"
}

LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	LDF="$LDF -X $p.gitVersion=v$KVER -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
	LDF="$LDF -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean"
	LDF="$LDF -X $p.buildDate=2024-12-10T00:00:00Z"
done

T0=$(date +%s)
comps=("$@")
[ $# -gt 0 ] || read -r -a comps <<<"$ALL"
for c in "${comps[@]}"; do
	exec 9>"$D/.build-$c.lock"   # one build of a component at a time; a second caller waits, then skips
	flock 9
	need "$c" || continue
	s=$(date +%s)
	case $c in
	kube-*|kubelet|kubectl)
		prepare_tree
		( cd "$TREE" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags="$LDF" -o "$OUT/$c.tmp" "./cmd/$c" ) ;;
	coredns)
		( cd "$D" && CGO_ENABLED=0 GOBIN="$OUT/.tmp-$c" go install -trimpath -ldflags='-s -w' "github.com/coredns/coredns@$COREDNS_VERSION" && mv "$OUT/.tmp-$c/coredns" "$OUT/$c.tmp" ) ;;
	pause)
		( cd "$HERE/../.." && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$OUT/$c.tmp" ./hack/cluster/pause ) ;;
	*) log "unknown component $c (known: $ALL)"; exit 2 ;;
	esac
	mv -f "$OUT/$c.tmp" "$OUT/$c"
	want "$c" >"$OUT/.$c.version"
	log "built $c in $(( $(date +%s) - s ))s"
done
rmdir "$OUT"/.tmp-* 2>/dev/null || true
# the copied tree is only needed to build (the module cache keeps its sources for a rebuild)
all=1
for c in $K8S; do need "$c" && all=0; done
[ $all = 1 ] && rm -rf "$D/src"
log "done in $(( $(date +%s) - T0 ))s; binaries in $OUT"
echo "$OUT"
