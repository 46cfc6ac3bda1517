#!/usr/bin/env bash
# hack/images.sh - build Trellis's container images without a Docker engine and push them to
# $REGISTRY with crane (github.com/google/go-containerregistry):
#
#   $REGISTRY/trellis:$TAG                 the host and CLI: entrypoint `trellis`, command `host`
#   $REGISTRY/nats-server:$NATS_TAG        nats-server, built from the github.com/nats-io/nats-server/v2
#                                          module go.mod requires (NATS_TAG: its version, without the v)
#   $REGISTRY/provider-$NAME:$TAG          one per provider in $PROVIDERS (entrypoint the provider
#                                          binary, which reads its HostData line on stdin)
#
# Every image has two layers and no other base: the project's own base layer (CA certificates
# copied from this machine's /etc/ssl/certs/ca-certificates.crt, /etc/passwd and /etc/group with
# the non-root user 65532 "nonroot", /etc/nsswitch.conf, /tmp and /data, both mode 1777) and one layer
# with the static binary (CGO_ENABLED=0) in /usr/local/bin. The images run as 65532:65532. Layers
# are tarred deterministically (sorted, mtime 0, numeric owners), so unchanged binaries give
# unchanged digests and a second push uploads nothing.
#
# Environment: REGISTRY (required), TAG (default: the chart's appVersion), PLATFORMS (default
# linux/<go env GOARCH>; several, space-separated, make a multi-platform index), PROVIDERS
# (default: every cmd/provider-*), INSECURE=1 for a plain-HTTP registry, CRANE (default: from
# hack/tools.sh), OUT (work directory, default build/images). The pushed references and digests
# are written to $OUT/images.txt.
set -euo pipefail
umask 022

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REGISTRY=${REGISTRY:?set REGISTRY, e.g. REGISTRY=127.0.0.1:5000}
REGISTRY=${REGISTRY%/}
TAG=${TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/trellis/Chart.yaml)}
PLATFORMS=${PLATFORMS:-linux/$(go env GOARCH)}
PROVIDERS=${PROVIDERS:-$(cd cmd && ls -d provider-* | sed 's/^provider-//' | tr '\n' ' ')}
OUT=${OUT:-build/images}
CRANE=${CRANE:-$(hack/tools.sh crane)}
CA=${CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
NATS_VERSION=$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)
NATS_TAG=${NATS_TAG:-${NATS_VERSION#v}}
crane=("$CRANE")
[ -n "${INSECURE:-}" ] && [ "${INSECURE}" != 0 ] && crane+=(--insecure)
# cr ARGS...: crane, quiet unless it fails
cr() {
	local out
	out=$("${crane[@]}" "$@" 2>&1) || { echo "images.sh: crane $*: $out" >&2; return 1; }
	case $1 in digest) echo "$out" | tail -1 ;; esac
}

[ -s "$CA" ] || { echo "images.sh: no CA bundle at $CA (install ca-certificates, or set CA_CERTS)" >&2; exit 1; }
T0=$(date +%s)
log() { echo "images.sh: $*" >&2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/images.txt"

# tarball DIR OUT: a deterministic layer of everything under DIR, owned by root.
tarball() {
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$1" -cf "$2" .
}

# ---- the base layer, once
BASE=$OUT/base.tar
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/base/etc/ssl/certs" "$W/base/tmp" "$W/base/data" "$W/base/usr/local/bin"
cat >"$W/base/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/data:/sbin/nologin
EOF
cat >"$W/base/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
echo 'hosts: files dns' >"$W/base/etc/nsswitch.conf"
install -m 0644 "$CA" "$W/base/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$W/base/tmp" "$W/base/data"
tarball "$W/base" "$BASE"

# image NAME REF ENTRYPOINT CMD: one image per platform, then (several platforms) an index.
image() {
	local name=$1 ref=$2 entry=$3 cmd=$4 plat os arch pref refs=()
	for plat in $PLATFORMS; do
		os=${plat%/*} arch=${plat#*/}
		local dir=$W/$name-$os-$arch
		mkdir -p "$dir/usr/local/bin"
		install -m 0755 "$OUT/$os-$arch/$name" "$dir/usr/local/bin/$name"
		tarball "$dir" "$OUT/$name-$os-$arch.tar"
		pref=$ref
		[ "$(echo $PLATFORMS | wc -w)" -gt 1 ] && pref=$ref-$arch
		# crane append starts from an empty image; mutate sets the config and retags.
		cr append --platform "$plat" -f "$BASE" -f "$OUT/$name-$os-$arch.tar" -t "$pref"
		local args=(mutate "$pref" -t "$pref" --set-platform "$plat" --user 65532:65532 --workdir /
			--entrypoint "$entry" --env PATH=/usr/local/bin --env HOME=/data
			-l org.opencontainers.image.source=https://github.com/trellis-lattice/trellis
			-l org.opencontainers.image.title="$name")
		[ -n "$cmd" ] && args+=(--cmd "$cmd")
		cr "${args[@]}"
		refs+=("$pref")
	done
	if [ ${#refs[@]} -gt 1 ]; then
		local m=()
		for r in "${refs[@]}"; do m+=(-m "$r"); done
		cr index append "${m[@]}" -t "$ref"
	fi
	local digest
	digest=$(cr digest "$ref")
	echo "$ref@$digest" >>"$OUT/images.txt"
	log "pushed $ref ($digest)"
}

# ---- static binaries for every platform
for plat in $PLATFORMS; do
	os=${plat%/*} arch=${plat#*/}
	s=$(date +%s)
	export CGO_ENABLED=0 GOOS=$os GOARCH=$arch
	go build -trimpath -ldflags="-s -w -X main.version=$TAG" -o "$OUT/$os-$arch/trellis" ./cmd/trellis
	go build -trimpath -ldflags="-s -w" -o "$OUT/$os-$arch/nats-server" github.com/nats-io/nats-server/v2
	for p in $PROVIDERS; do
		go build -trimpath -ldflags="-s -w" -o "$OUT/$os-$arch/provider-$p" "./cmd/provider-$p"
	done
	unset CGO_ENABLED GOOS GOARCH
	log "built the binaries for $plat in $(($(date +%s) - s))s"
done

s=$(date +%s)
image trellis "$REGISTRY/trellis:$TAG" /usr/local/bin/trellis host
image nats-server "$REGISTRY/nats-server:$NATS_TAG" /usr/local/bin/nats-server ""
for p in $PROVIDERS; do
	image "provider-$p" "$REGISTRY/provider-$p:$TAG" "/usr/local/bin/provider-$p" ""
done
log "pushed $(wc -l <"$OUT/images.txt") images in $(($(date +%s) - s))s ($(($(date +%s) - T0))s in all); list in $OUT/images.txt"
