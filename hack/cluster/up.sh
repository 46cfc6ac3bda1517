#!/usr/bin/env bash
# hack/cluster/up.sh - start a throwaway single-node Kubernetes (v1.31) on this machine, without
# Docker, for the e2e walkthrough. Needs root and, from Debian: etcd-server containerd runc
# containernetworking-plugins iptables conntrack docker-registry busybox-static openssl curl
# (hack/cluster/deps.sh installs them, and jq for the e2e test), and the binaries of
# hack/cluster/build.sh.
#
# Starts, in the background, each with its own PID file and log under $TRELLIS_CLUSTER_DIR
# (default ~/.cache/trellis/cluster):
#   etcd -> a plain-HTTP registry on :5000 -> containerd (own root, state and socket; CRI with a
#   bridge CNI) -> kube-apiserver (:16443) -> kube-controller-manager, kube-scheduler, kubelet,
#   kube-proxy -> CoreDNS (cluster DNS 10.96.0.10).
# The registry listens on $REGISTRY_ADDR (default 0.0.0.0:5000) so that both this machine
# (127.0.0.1:5000) and the pods (NODE_IP:5000) reach it; containerd pulls from it over HTTP as
# 127.0.0.1:5000, NODE_IP:5000 and as the docker.io mirror. It is seeded with
# library/busybox:stable (from busybox-static) for test client pods.
#
# Idempotent: a component whose saved PID is alive is left alone; certificates and kubeconfigs are
# made once. Progress goes to stderr; stdout gets two lines: `REGISTRY=NODE_IP:5000`, then the
# admin kubeconfig path (so `export KUBECONFIG=$(hack/cluster/up.sh | tail -1)` works).
# hack/cluster/down.sh stops everything and restores the machine. Only one such cluster (or the
# like) can run on a machine: kube-proxy's iptables chains and the kubelet's port are global.
#
# Knobs: NODE_IP, API_PORT (16443), ETCD_PORT (23791), REGISTRY_ADDR (0.0.0.0:5000),
# TRELLIS_CLUSTER_WAIT_DNS=0 (do not wait for CoreDNS).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${TRELLIS_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/cluster}
BIN=$D/bin
RUN=$D/run
C=$D/certs
LOG=$D/logs
ETCD_PORT=${ETCD_PORT:-23791}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23801}
API_PORT=${API_PORT:-16443}
REGISTRY_ADDR=${REGISTRY_ADDR:-0.0.0.0:5000}
REGISTRY_PORT=${REGISTRY_ADDR##*:}
SVC_CIDR=10.96.0.0/16
SVC_API_IP=10.96.0.1
DNS_IP=10.96.0.10
POD_CIDR=10.244.0.0/16
NODE_NAME=$(hostname | tr 'A-Z' 'a-z')
NODE_IP=${NODE_IP:-$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for(i=1;i<=NF;i++) if($i=="src"){print $(i+1); exit}}')}
NODE_IP=${NODE_IP:-$(hostname -I 2>/dev/null | awk '{print $1}')}
[ -n "$NODE_IP" ] || { echo "up.sh: cannot tell this machine's IP address: set NODE_IP" >&2; exit 1; }
SOCK=$RUN/containerd/containerd.sock
ADMIN=$D/admin.kubeconfig
export PATH=$BIN:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export KUBECONFIG=$ADMIN

T0=$(date +%s.%N)
ts() { awk -v a="$T0" -v b="$(date +%s.%N)" -v m="$*" 'BEGIN{printf "[up %6.1fs] %s\n", b-a, m}' >&2; }
die() { echo "up.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it runs containerd, the kubelet and kube-proxy)"
for b in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl coredns pause; do
	[ -x "$BIN/$b" ] || die "missing $BIN/$b: run hack/cluster/build.sh first"
done
for b in etcd containerd runc docker-registry iptables conntrack openssl curl busybox; do
	command -v $b >/dev/null || die "missing $b: run hack/cluster/deps.sh (Debian packages) first"
done
[ -x /usr/lib/cni/bridge ] || die "missing /usr/lib/cni/bridge: run hack/cluster/deps.sh first"
CRANE=$("$HERE/../tools.sh" crane)
mkdir -p "$D/images" "$RUN/containerd" "$C" "$LOG" "$D/etcd" "$D/kubelet" "$D/manifests" "$D/cni/net.d" "$D/cni/ipam"

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
start() { # NAME CMD...: in the background, in its own session, PID saved
	local n=$1
	shift
	if alive "$n"; then
		ts "$n already running (pid $(cat "$RUN/$n.pid"))"
		return
	fi
	setsid "$@" >>"$LOG/$n.log" 2>&1 </dev/null &
	echo $! >"$RUN/$n.pid"
	ts "started $n (pid $!)"
}
waitfor() { # DESC SECONDS CMD...
	local desc=$1 to=$2 i
	shift 2
	for ((i = 0; i < to * 5; i++)); do
		timeout 5 "$@" >/dev/null 2>&1 && { ts "$desc ready"; return 0; }
		sleep 0.2
	done
	die "timeout waiting for $desc (logs in $LOG)"
}
portfree() { # PORT NAME: fail early when another program holds a port a component needs
	alive "$2" && return 0
	if ss -Hltn "sport = :$1" | grep -q .; then
		die "port $1 (for $2) is taken by another program: is another cluster running? (hack/cluster/down.sh stops ours)"
	fi
}
portfree "$ETCD_PORT" etcd
portfree "$REGISTRY_PORT" registry
portfree "$API_PORT" kube-apiserver
portfree 10250 kubelet

# ---- kernel settings (machine-wide): the originals are saved once, down.sh restores them
[ -f "$RUN/sysctl.orig" ] || for k in net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops; do
	echo "$k=$(sysctl -n $k)"
done >"$RUN/sysctl.orig"
modprobe br_netfilter 2>/dev/null || true
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
# what the kubelet would set itself (protectKernelDefaults=false), set up front so it is explicit
sysctl -qw vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 kernel.panic_on_oops=1 || true

# ---- certificates and static tokens, once
if [ ! -f "$C/done" ]; then
	(
		cd "$C"
		openssl genrsa -out ca.key 2048 2>/dev/null
		openssl req -x509 -new -nodes -key ca.key -subj "/CN=trellis-cluster-ca" -days 3650 -out ca.crt
		cert() { # NAME SUBJECT EXTENSIONS
			openssl genrsa -out "$1.key" 2048 2>/dev/null
			openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
			printf '%b\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
		}
		cert apiserver "/CN=kube-apiserver" "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$SVC_API_IP,IP:$NODE_IP\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment"
		cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment"
		cert kubelet "/CN=$NODE_NAME" "subjectAltName=DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment"
		openssl genrsa -out sa.key 2048 2>/dev/null
		# token,user,uid,"groups": every component is a cluster admin (a throwaway test cluster)
		cat >tokens.csv <<EOF
$(openssl rand -hex 16),admin,admin,system:masters
$(openssl rand -hex 16),system:node:$NODE_NAME,kubelet,"system:nodes,system:masters"
$(openssl rand -hex 16),system:kube-controller-manager,kcm,system:masters
$(openssl rand -hex 16),system:kube-scheduler,sched,system:masters
$(openssl rand -hex 16),system:kube-proxy,kube-proxy,system:masters
EOF
		chmod 0600 ./*.key tokens.csv
		touch ./done
	)
	ts "made certificates in $C"
fi
tok() { awk -F, -v u="$1" '$2==u{print $1}' "$C/tokens.csv"; }
kubeconfig() { # FILE USER
	[ -f "$1" ] && return
	kubectl config --kubeconfig="$1" set-cluster local --server="https://127.0.0.1:$API_PORT" --certificate-authority="$C/ca.crt" --embed-certs=true >/dev/null
	kubectl config --kubeconfig="$1" set-credentials u --token="$(tok "$2")" >/dev/null
	kubectl config --kubeconfig="$1" set-context local --cluster=local --user=u >/dev/null
	kubectl config --kubeconfig="$1" use-context local >/dev/null
	chmod 0600 "$1"
}
kubeconfig "$ADMIN" admin
kubeconfig "$D/kubelet.kubeconfig" "system:node:$NODE_NAME"
kubeconfig "$D/controller-manager.kubeconfig" system:kube-controller-manager
kubeconfig "$D/scheduler.kubeconfig" system:kube-scheduler
kubeconfig "$D/kube-proxy.kubeconfig" system:kube-proxy

# ---- etcd (Debian's etcd-server 3.4 runs kube-apiserver 1.31 fine)
start etcd etcd --name trellis --data-dir "$D/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "trellis=http://127.0.0.1:$ETCD_PEER_PORT"
waitfor etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

# ---- the registry (Debian's docker-registry, the distribution v2 server), plain HTTP
cat >"$D/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $D/registry-data}
  delete: {enabled: true}
http:
  addr: $REGISTRY_ADDR
EOF
start registry docker-registry serve "$D/registry.yml"
waitfor registry 20 curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/"
if ! "$CRANE" digest --insecure "127.0.0.1:$REGISTRY_PORT/library/busybox:stable" >/dev/null 2>&1; then
	W=$(mktemp -d)
	mkdir -p "$W/r/bin" "$W/r/tmp"
	chmod 1777 "$W/r/tmp"
	cp "$(command -v busybox)" "$W/r/bin/busybox"
	for a in $("$W/r/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$W/r/bin/$a"; done
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$W/r" -cf "$W/layer.tar" .
	"$CRANE" append --insecure -f "$W/layer.tar" -t "127.0.0.1:$REGISTRY_PORT/library/busybox:base" >/dev/null 2>&1
	"$CRANE" mutate --insecure "127.0.0.1:$REGISTRY_PORT/library/busybox:base" --set-platform "linux/$(go env GOARCH)" --cmd sh \
		-e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -t "127.0.0.1:$REGISTRY_PORT/library/busybox:stable" >/dev/null 2>&1
	rm -rf "$W"
	ts "pushed library/busybox:stable (busybox-static) to the registry"
fi

# ---- containerd (Debian 1.6) with its own root, state and socket
mirror() { printf '  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n    endpoint = ["http://%s"]\n' "$1" "$2"; }
cat >"$D/containerd.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "trellis-cluster.test/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # root in these VMs lacks CAP_SYS_RESOURCE: a negative oom_score_adj is EPERM, so clamp it
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
    max_conf_num = 1
$(mirror "127.0.0.1:$REGISTRY_PORT" "127.0.0.1:$REGISTRY_PORT")
$(mirror "$NODE_IP:$REGISTRY_PORT" "127.0.0.1:$REGISTRY_PORT")
$(mirror "localhost:$REGISTRY_PORT" "127.0.0.1:$REGISTRY_PORT")
$(mirror docker.io "127.0.0.1:$REGISTRY_PORT")
EOF
cat >"$D/cni/net.d/10-trellis.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "trellis",
  "plugins": [
    { "type": "bridge", "bridge": "trellis0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$D/cni/ipam",
                "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
start containerd containerd --config "$D/containerd.toml"
waitfor containerd 30 ctr --address "$SOCK" version
# the pod sandbox and CoreDNS: one-layer images straight into the CRI namespace
for img in pause coredns; do
	if ! ctr --address "$SOCK" -n k8s.io images ls -q | grep -qx "trellis-cluster.test/$img:1"; then
		[ -f "$D/images/$img.tar" ] || "$HERE/mkimage.sh" "trellis-cluster.test/$img:1" "$BIN/$img" "$D/images/$img.tar"
		ctr --address "$SOCK" -n k8s.io images import "$D/images/$img.tar" >/dev/null
		ts "imported trellis-cluster.test/$img:1"
	fi
done

# ---- control plane
start kube-apiserver kube-apiserver \
	--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
	--bind-address=0.0.0.0 --secure-port="$API_PORT" --advertise-address="$NODE_IP" \
	--tls-cert-file="$C/apiserver.crt" --tls-private-key-file="$C/apiserver.key" \
	--client-ca-file="$C/ca.crt" --token-auth-file="$C/tokens.csv" \
	--kubelet-client-certificate="$C/apiserver-kubelet-client.crt" --kubelet-client-key="$C/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types=InternalIP,Hostname \
	--service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$C/sa.key" \
	--service-account-signing-key-file="$C/sa.key" \
	--authorization-mode=Node,RBAC --allow-privileged=true \
	--service-cluster-ip-range="$SVC_CIDR" --service-node-port-range=30000-32767 \
	--enable-priority-and-fairness=false --profiling=false
waitfor kube-apiserver 120 kubectl get --raw /readyz
start kube-controller-manager kube-controller-manager \
	--kubeconfig="$D/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$D/controller-manager.kubeconfig" --authorization-kubeconfig="$D/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --controllers='*' \
	--service-account-private-key-file="$C/sa.key" --root-ca-file="$C/ca.crt" \
	--cluster-signing-cert-file="$C/ca.crt" --cluster-signing-key-file="$C/ca.key" \
	--service-cluster-ip-range="$SVC_CIDR" --use-service-account-credentials=false
start kube-scheduler kube-scheduler \
	--kubeconfig="$D/scheduler.kubeconfig" \
	--authentication-kubeconfig="$D/scheduler.kubeconfig" --authorization-kubeconfig="$D/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false

# ---- the node
cat >"$D/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $C/kubelet.crt
tlsPrivateKeyFile: $C/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $C/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
staticPodPath: $D/manifests
clusterDomain: cluster.local
clusterDNS: ["$DNS_IP"]
resolvConf: /etc/resolv.conf
serializeImagePulls: false
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
nodeStatusUpdateFrequency: 10s
EOF
start kubelet kubelet --config="$D/kubelet.yaml" --kubeconfig="$D/kubelet.kubeconfig" \
	--root-dir="$D/kubelet" --cert-dir="$D/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
# ClusterIP Services (iptables); `kubectl port-forward` does not need it, Service traffic between pods does
touch "$RUN/kube-proxy.used"
start kube-proxy kube-proxy --kubeconfig="$D/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
	--cluster-cidr="$POD_CIDR" --proxy-mode=iptables --conntrack-max-per-core=0 \
	--conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
	--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
waitfor "node $NODE_NAME" 120 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
waitfor "default service account" 60 kubectl -n default get serviceaccount default
kubectl apply -f "$HERE/coredns.yaml" >/dev/null
[ "${TRELLIS_CLUSTER_WAIT_DNS:-1}" = 1 ] && waitfor coredns 120 kubectl -n kube-system rollout status deploy/coredns --timeout=2s
echo "$NODE_IP:$REGISTRY_PORT" >"$D/registry"
ts "cluster up: KUBECONFIG=$ADMIN, registry $NODE_IP:$REGISTRY_PORT (also 127.0.0.1:$REGISTRY_PORT here)"
echo "REGISTRY=$NODE_IP:$REGISTRY_PORT"
echo "$ADMIN"
