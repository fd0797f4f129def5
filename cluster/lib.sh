# Sourced by up.sh and down.sh: the one place the cluster's versions, paths,
# addresses and ports are set, so that tear-down removes exactly what
# bring-up made.

# 1.34 is the newest line whose kubelet runs on what Debian 12 has: 1.35
# refuses cgroup v1 unless told otherwise and is dropping containerd 1.x.
KUBE_VERSION=1.34.4
ETCD_VERSION=3.6.4

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'cluster [%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -n "${CLUSTER_DIR:-}" ] || die "set CLUSTER_DIR to a directory of the cluster's own (its state, sockets and logs go there)"
# /proc/mounts and the daemons' command lines hold canonical paths, and
# down.sh finds what is the cluster's by them.
K=$(realpath -m "$CLUSTER_DIR")
case $K in /) die "CLUSTER_DIR=/ would make every mount and process the cluster's" ;; *[[:space:]]*) die "CLUSTER_DIR must not contain spaces: /proc/mounts escapes them" ;; esac

# The binaries are built once per version and kept outside the clone, so a
# fresh clone on the same machine (CI's) reuses them.
CACHE=${BOTTLE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bottle}
KUBE_BIN=$CACHE/k8s-v$KUBE_VERSION/bin
ETCD_BIN=$CACHE/etcd-v$ETCD_VERSION/bin
# Keyed by its source, so that a change to pause/main.go builds it anew.
PAUSE_BIN=$CACHE/pause-$(sha256sum "$HERE/pause/main.go" | cut -c1-12)/bin
PAUSE_IMAGE=k8s.local/pause:1

PKI=$K/pki
LOGS=$K/logs
RUN=$K/run
SOCK=$K/containerd/containerd.sock
ADMIN_KUBECONFIG=$PKI/admin.kubeconfig
KUBECTL=$KUBE_BIN/kubectl

NODE=node1
# The kubelet refuses a loopback node address and this kernel has no dummy
# interfaces: the pods' bridge carries the node's address.
BRIDGE=k8sbr0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1 # the first of SERVICE_CIDR: the kubernetes service, named in the API server's certificate
# etcd client, peer, metrics; API server; kubelet, its healthz; controller
# manager; scheduler. All on loopback but the kubelet's, which the API
# server reaches at the node address for exec, attach and logs.
PORTS="2379 2380 2381 6443 10250 10248 10257 10259"
# A comment on every iptables rule of ours, so that only ours are removed.
RULE_MARK=bottle-cluster

# What the kubelet sets on the host at start (setupKernelTunables) and
# down.sh puts back, from HOST_SYSCTLS: in /run, which a reboot empties as
# it resets them, and not in CLUSTER_DIR, so that the values from before a
# cluster that was killed are put back by whichever clone brings up next.
HOST_SYSCTLS=/run/bottle-cluster/host-sysctls
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

# pid_of NAME prints the PID in run/NAME.pid while that process is still the
# binary NAME of this cluster (its command line names the state directory),
# so that a PID reused since is never signalled.
pid_of() {
	local p first args
	p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
	args=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || return 1
	read -r first _ <<<"$args"
	[ "${first##*/}" = "$1" ] && [[ $args == *"$K/"* ]] && echo "$p"
}
