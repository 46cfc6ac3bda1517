#!/usr/bin/env bash
# hack/kube-apiserver.sh [CACHE_DIR] - build kube-apiserver from k8s.io/kubernetes fetched from the
# Go module proxy (no git, no Docker) into CACHE_DIR/bin/kube-apiserver, for the applier's tests.
#
# The published k8s.io/kubernetes module points every k8s.io/* staging module at ./staging/src,
# which the proxy does not ship, so the tree is copied out of the module cache, vendor/ and go.work
# are dropped, and each staging replace is pointed at the published k8s.io/X@v0.MINOR.PATCH module.
# The binary is stamped with the real version (-ldflags -X); without it it reports v0.0.0-master.
#
# Cached: when CACHE_DIR/bin/kube-apiserver already reports v$KVER the script does nothing. The
# last line of stdout is the binary's path, so `export TRELLIS_KUBE_APISERVER=$(hack/kube-apiserver.sh)`
# works. Cold it takes a few minutes on two cores (most of it compiling); cached, well under a second.
#
# Environment: KVER (default 1.31.4, matching the k8s.io/client-go v0.31.x the applier uses),
# TRELLIS_K8S_DIR (default cache dir when no argument is given).
set -euo pipefail

KVER=${KVER:-1.31.4}
DIR=${1:-${TRELLIS_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/k8s}}
MINOR=$(echo "$KVER" | cut -d. -f2)
OUT=$DIR/bin
BIN=$OUT/kube-apiserver
mkdir -p "$OUT"
DIR=$(cd "$DIR" && pwd)
OUT=$DIR/bin
BIN=$OUT/kube-apiserver

have() { [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -qx "Kubernetes v$KVER"; }

if have; then
	echo "$BIN"
	exit 0
fi

# One build at a time per cache dir; a second caller waits and then finds the binary.
exec 9>"$DIR/.lock"
flock 9
if have; then
	echo "$BIN"
	exit 0
fi

export GOWORK=off
start=$(date +%s)
TREE=$DIR/src/kubernetes-$KVER
if [ ! -f "$TREE/go.mod" ] || grep -q '=> ./staging' "$TREE/go.mod"; then
	s=$(date +%s)
	# Outside any module, so the caller's go.mod is neither read nor touched.
	MOD=$(cd "$DIR" && go mod download -json "k8s.io/kubernetes@v$KVER" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	[ -n "$MOD" ] || { echo "kube-apiserver.sh: go mod download k8s.io/kubernetes@v$KVER failed" >&2; exit 1; }
	rm -rf "$TREE"
	mkdir -p "$(dirname "$TREE")"
	cp -r "$MOD" "$TREE"
	chmod -R u+w "$TREE"
	cd "$TREE"
	rm -rf vendor go.work go.work.sum
	for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' go.mod); do
		go mod edit -dropreplace="$m" -replace="$m=$m@v0.${KVER#1.}"
	done
	echo "kube-apiserver.sh: prepared k8s.io/kubernetes@v$KVER in $(($(date +%s) - s))s" >&2
fi

cd "$TREE"
LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	LDF="$LDF -X $p.gitVersion=v$KVER -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
	LDF="$LDF -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean"
	LDF="$LDF -X $p.buildDate=2024-12-10T00:00:00Z"
done
s=$(date +%s)
CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags="$LDF" -o "$BIN.tmp" ./cmd/kube-apiserver
mv -f "$BIN.tmp" "$BIN"
echo "kube-apiserver.sh: built kube-apiserver v$KVER in $(($(date +%s) - s))s ($(($(date +%s) - start))s in all)" >&2
# The tree is only needed to build; the module cache keeps its sources for a rebuild.
rm -rf "$DIR/src"
have || { echo "kube-apiserver.sh: $BIN does not report v$KVER" >&2; exit 1; }
echo "$BIN"
