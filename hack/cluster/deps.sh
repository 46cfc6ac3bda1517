#!/usr/bin/env bash
# hack/cluster/deps.sh - install the Debian packages hack/cluster/up.sh runs (as root; skips the
# ones already installed). Go is needed too (to build the Kubernetes binaries: hack/cluster/build.sh).
set -euo pipefail
packages=(etcd-server containerd runc containernetworking-plugins iptables conntrack docker-registry
	busybox-static openssl curl ca-certificates iproute2 kmod jq)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	echo "deps.sh: installed ${missing[*]}" >&2
fi
# Debian starts containerd and the registry as system services on install: the cluster runs its
# own, with its own configuration, so stop those (they would hold :5000 and /run/containerd).
for s in containerd docker-registry; do
	if systemctl is-active --quiet "$s" 2>/dev/null; then systemctl stop "$s" && echo "deps.sh: stopped the $s service" >&2; fi
done
