#!/usr/bin/env bash
# hack/cluster/down.sh [--purge] - stop what hack/cluster/up.sh started (by saved PID only), kill
# the pod containers through containerd, unmount pod mounts, remove pod network namespaces, our
# iptables rules and the bridge, and restore the sysctls up.sh changed. --purge also deletes the
# cluster's state (etcd, containerd content, kubelet dir, certificates, kubeconfigs, registry
# content) so the next up.sh starts fresh; the built binaries (bin/) are kept.
set -uo pipefail
D=${TRELLIS_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/cluster}
RUN=$D/run
SOCK=$RUN/containerd/containerd.sock
export PATH=$D/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

stop() { # NAME: TERM, then KILL after 10 s
	local f=$RUN/$1.pid p
	[ -f "$f" ] || return 0
	p=$(cat "$f")
	if kill -0 "$p" 2>/dev/null; then
		kill "$p"
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$p" 2>/dev/null && kill -9 "$p"
		echo "stopped $1 (pid $p)" >&2
	fi
	rm -f "$f"
}

stop kubelet
if [ -f "$RUN/kube-proxy.pid" ] || [ -f "$RUN/kube-proxy.used" ]; then
	stop kube-proxy
	kube-proxy --cleanup >/dev/null 2>&1 || true
	rm -f "$RUN/kube-proxy.used"
fi
stop registry

# pod containers: kill and delete every task and container of the CRI namespace; remember netns
NETNS=()
if [ -f "$RUN/containerd.pid" ] && kill -0 "$(cat "$RUN/containerd.pid")" 2>/dev/null; then
	CTR=(ctr --address "$SOCK" -n k8s.io)
	for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do
		ns=$("${CTR[@]}" containers info "$c" 2>/dev/null | sed -n 's#.*"path": "\(/var/run/netns/[^"]*\)".*#\1#p; s#.*"path": "\(/run/netns/[^"]*\)".*#\1#p' | head -1)
		[ -n "$ns" ] && NETNS+=("$ns")
		"${CTR[@]}" tasks kill -s SIGKILL "$c" >/dev/null 2>&1
	done
	sleep 1
	for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do
		"${CTR[@]}" tasks delete -f "$c" >/dev/null 2>&1
		"${CTR[@]}" containers delete "$c" >/dev/null 2>&1
	done
	echo "removed the pod containers" >&2
fi
stop containerd
stop kube-controller-manager
stop kube-scheduler
stop kube-apiserver
stop etcd

# mounts left under $D (pod volumes, sandbox shm, rootfs overlays), deepest first
awk -v d="$D/" 'index($2,d)==1{print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
for ns in "${NETNS[@]}"; do [ -e "$ns" ] && { umount "$ns" 2>/dev/null; rm -f "$ns"; }; done
# the bridge plugin's masquerade rules for our network ("trellis") and their CNI-… chains
if command -v iptables >/dev/null; then
	for ch in $(iptables -t nat -S POSTROUTING 2>/dev/null | grep 'name: \\"trellis\\"' | sed -n 's/.* -j \(CNI-[0-9a-f]*\).*/\1/p'); do
		for n in $(iptables -t nat -L POSTROUTING -n --line-numbers 2>/dev/null | awk -v c="$ch" '$2==c{print $1}' | sort -rn); do
			iptables -t nat -D POSTROUTING "$n"
		done
		iptables -t nat -F "$ch" 2>/dev/null
		iptables -t nat -X "$ch" 2>/dev/null
	done
fi
# chains the kubelet and kube-proxy leave (KUBE-FIREWALL drops non-loopback traffic to 127/8)
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	$ipt -D INPUT -j KUBE-FIREWALL 2>/dev/null
	$ipt -D OUTPUT -j KUBE-FIREWALL 2>/dev/null
	for t in filter nat mangle; do
		for ch in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-PROXY-CANARY KUBE-MARK-MASQ KUBE-MARK-DROP KUBE-IPTABLES-HINT; do
			$ipt -t $t -F $ch 2>/dev/null
			$ipt -t $t -X $ch 2>/dev/null
		done
	done
done
rm -rf "${D:?}"/cni/ipam/*   # every pod is gone, so every address lease is stale
ip link del trellis0 2>/dev/null

if [ -f "$RUN/sysctl.orig" ]; then
	while read -r kv; do sysctl -qw "$kv" 2>/dev/null; done <"$RUN/sysctl.orig"
	rm -f "$RUN/sysctl.orig"
	echo "restored sysctls" >&2
fi

if [ "${1:-}" = "--purge" ]; then
	rm -rf "${D:?}/etcd" "$D/containerd" "$D/kubelet" "$RUN" "$D/certs" "$D"/*.kubeconfig "$D/registry-data" "$D/registry" "$D/logs"
	echo "purged the cluster state in $D" >&2
fi
exit 0
