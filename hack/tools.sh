#!/usr/bin/env bash
# hack/tools.sh TOOL... - make sure the pinned command-line tools the Makefile, the chart tests and
# the e2e walkthrough use are installed, building them from the Go module proxy (no release
# downloads, no Docker), and print the path of each, one a line:
#   helm   helm.sh/helm/v3/cmd/helm                          $HELM_VERSION  (default v3.16.3; ~80 s cold)
#   crane  github.com/google/go-containerregistry/cmd/crane  $CRANE_VERSION (default v0.20.2; ~30 s cold)
# Installed into $TRELLIS_TOOLS_DIR/bin (default ~/.cache/trellis/tools/bin) and kept there; a tool
# already there at the pinned version is not rebuilt, so a warm call takes milliseconds.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.16.3}
HELM_K8S_VERSION=${HELM_K8S_VERSION:-1.31} # the k8s.io/client-go minor helm $HELM_VERSION is built with
CRANE_VERSION=${CRANE_VERSION:-v0.20.2}
D=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/tools}
mkdir -p "$D/bin"
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

[ $# -gt 0 ] || { echo "usage: $0 helm|crane..." >&2; exit 2; }
for tool in "$@"; do
	case $tool in
	helm) pkg=helm.sh/helm/v3/cmd/helm version=$HELM_VERSION+k8s$HELM_K8S_VERSION
		# as helm's own Makefile does: without these, helm template and lint assume Kubernetes
		# 1.20 and refuse charts that require a newer one
		ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
		for p in chartutil lint/rules; do
			ldflags="$ldflags -X helm.sh/helm/v3/pkg/$p.k8sVersionMajor=${HELM_K8S_VERSION%.*}"
			ldflags="$ldflags -X helm.sh/helm/v3/pkg/$p.k8sVersionMinor=${HELM_K8S_VERSION#*.}"
		done ;;
	crane) pkg=github.com/google/go-containerregistry/cmd/crane version=$CRANE_VERSION
		ldflags="-s -w" ;;
	*) echo "tools.sh: unknown tool $tool (known: helm crane)" >&2; exit 2 ;;
	esac
	bin=$D/bin/$tool
	stamp=$D/bin/.$tool.version
	if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
		exec 9>"$D/.$tool.lock"   # one install at a time; a second caller waits, then finds it
		flock 9
		if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
			s=$(date +%s)
			tmp=$(mktemp -d "$D/.install.XXXXXX")
			# Outside any module, so the caller's go.mod is neither read nor touched.
			(cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags="$ldflags" "$pkg@${version%+*}")
			mv -f "$tmp/$tool" "$bin"
			rm -rf "$tmp"
			echo "$version" >"$stamp"
			echo "tools.sh: installed $tool $version in $(($(date +%s) - s))s" >&2
		fi
		exec 9>&-
	fi
	echo "$bin"
done
