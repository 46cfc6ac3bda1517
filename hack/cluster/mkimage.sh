#!/usr/bin/env bash
# hack/cluster/mkimage.sh REF BINARY OUT.tar - a one-layer image (no base) whose entrypoint is
# /<basename BINARY>, as a docker-archive tarball that `ctr images import` loads straight into
# containerd (used by up.sh for the pod sandbox and CoreDNS, so the node needs no registry for them).
set -euo pipefail
REF=$1 BIN=$2 OUT=$3
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/root/tmp" "$W/img"
chmod 1777 "$W/root/tmp"
NAME=$(basename "$BIN")
install -m 0755 "$BIN" "$W/root/$NAME"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$W/root" -cf "$W/layer.tar" .
LSHA=$(sha256sum "$W/layer.tar" | cut -d' ' -f1)
mkdir -p "$W/img/$LSHA"
mv "$W/layer.tar" "$W/img/$LSHA/layer.tar"
ARCH=$(go env GOARCH)
cat >"$W/config.json" <<JSON
{"architecture":"$ARCH","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Entrypoint":["/$NAME"],"Env":["PATH=/"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$LSHA"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/cluster/mkimage.sh"}]}
JSON
CSHA=$(sha256sum "$W/config.json" | cut -d' ' -f1)
mv "$W/config.json" "$W/img/$CSHA.json"
echo "[{\"Config\":\"$CSHA.json\",\"RepoTags\":[\"$REF\"],\"Layers\":[\"$LSHA/layer.tar\"]}]" >"$W/img/manifest.json"
tar -C "$W/img" -cf "$OUT" manifest.json "$CSHA.json" "$LSHA"
