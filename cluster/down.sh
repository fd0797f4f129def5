#!/usr/bin/env bash
# cluster/down.sh: tears down what up.sh started in CLUSTER_DIR, and what a
# cluster there that was killed instead left behind: pods first, through
# the kubelet (so that CNI and containerd undo their network namespaces and
# veths), then the daemons by PID, then whatever is still there: container
# processes by cgroup, shims, mounts, veths, the bridge, iptables rules,
# cgroups, the kubelet's sysctls. It ends by checking, and fails naming
# what it could not remove. It keeps CLUSTER_DIR/logs, for a failed run to
# be read. Safe to run when nothing is up.
#
# -e is off on purpose: every step must run even when one before it failed;
# what is left is judged at the end.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root"

kubectl() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# alive PID...: whether one of them still runs (a zombie does not: it
# waits only for whoever reaps the orphans).
alive() {
	local p st
	for p; do
		st=$(ps -o stat= -p "$p") && [[ $st != Z* ]] && return 0
	done
	return 1
}

# stop NAME...: SIGTERM to them all at once (each takes a second or two
# to go), up to 10 s for them to go, then SIGKILL.
stop() {
	local n p i pids=()
	for n; do
		p=$(pid_of "$n") && kill "$p" 2>/dev/null && pids+=("$p")
		rm -f "$RUN/$n.pid"
	done
	for i in $(seq 50); do
		alive "${pids[@]}" || return 0
		sleep 0.2
	done
	kill -9 "${pids[@]}" 2>/dev/null
}

# stray_processes: daemons of this cluster whose PID file is gone, and the
# containerd shims that outlive their containerd. Matched on binary and
# arguments, never on the state directory alone: a shell or an editor may
# name it too.
stray_processes() {
	local d p args first
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		args=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
		read -r first _ <<<"$args"
		case ${first##*/} in
		containerd-shim*) [[ $args == *"-address $SOCK "* ]] && echo "$p" ;;
		containerd | etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kubelet)
			[[ $args == *"$K/"* ]] && echo "$p" ;;
		esac
	done
}

# The node's cgroup trees (cgroupfs, v1 or v2), and containerd's for what
# it runs outside the kubelet. No other kubelet runs on a test machine.
cgroup_dirs() { ls -d /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/k8s.io /sys/fs/cgroup/*/k8s.io 2>/dev/null; }

our_mounts() { awk -v k="$K/" 'index($2, k) == 1 {print $2}' /proc/mounts | sort -r; }

# Chains a kubelet adds (KUBE-: none with makeIPTablesUtilChains off, but a
# kubelet's defaults change between versions) and CNI's portmap plugin
# (CNI-: for a pod with a host port), in every table they use. Nothing else
# on a test machine names its chains so.
kube_chains() { # IPTABLES TABLE
	"$1" -t "$2" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/ {print $2}'
}

# The pods' sandboxes, by which CNI names what it caches outside CLUSTER_DIR.
sandboxes=$(ls "$K/containerd/state/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null)
cni_cache() { for id in $sandboxes; do ls -d /var/lib/cni/results/*-"$id"-* 2>/dev/null; done; }

# 1. Pods, while the kubelet and containerd run.
if pid_of kube-apiserver >/dev/null && pid_of kubelet >/dev/null && kubectl get --raw /readyz >/dev/null 2>&1; then
	timeout 90 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" delete pods --all --all-namespaces \
		--grace-period=1 --wait --timeout=75s >/dev/null 2>&1 || log "pods were not all deleted in time: removing them by hand"
fi

# 2. The daemons, the kubelet first, so that nothing restarts a container.
stop kubelet
stop kube-scheduler kube-controller-manager kube-apiserver etcd

# 3. What containerd still runs; then containerd, and the shims it leaves.
for c in $(cgroup_dirs); do
	find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
done | sort -u | xargs -r kill -9 2>/dev/null
if pid_of containerd >/dev/null; then
	for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1; done
fi
stop containerd
stray_processes | xargs -r kill -9 2>/dev/null
for i in $(seq 25); do alive $(stray_processes) || break; sleep 0.2; done

# 4. Mounts (containers' root file systems, network namespaces, volumes),
# the deepest first; a busy one is detached.
for pass in 1 2; do
	for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

# 5. The network: veths still on the bridge, the bridge, our FORWARD rule,
# the kubelet's and CNI's chains.
for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$v" 2>/dev/null; done
ip link del "$BRIDGE" 2>/dev/null
while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_MARK" -j ACCEPT 2>/dev/null; do :; done
for ipt in iptables ip6tables; do
	for t in filter nat mangle; do
		"$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A .* -j (KUBE|CNI)-' | sed 's/^-A/-D/' |
			while read -r rule; do eval "$ipt -t $t $rule" 2>/dev/null; done
		for ch in $(kube_chains "$ipt" "$t"); do "$ipt" -t "$t" -F "$ch" 2>/dev/null; done
		for ch in $(kube_chains "$ipt" "$t"); do "$ipt" -t "$t" -X "$ch" 2>/dev/null; done
	done
done

# 6. Outside CLUSTER_DIR, what CNI and the kubelet put in paths they do not
# let be changed: CNI's cache of results, the links to each container's log,
# the device plugins' socket; then those directories, when empty (they
# were made for the cluster).
cni_cache | xargs -r rm -f
rm -f /var/lib/kubelet/device-plugins/kubelet.sock
find /var/log/containers -maxdepth 1 -type l -lname "$K/*" -delete 2>/dev/null
rmdir /var/lib/cni/results /var/lib/cni /var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers /var/log/pods 2>/dev/null

# 7. Cgroups, the deepest first (they are empty now).
for c in $(cgroup_dirs); do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done

# 8. The kernel settings the kubelet changed.
if [ -s "$HOST_SYSCTLS" ]; then
	while IFS= read -r kv; do sysctl -qw "$kv" >/dev/null; done <"$HOST_SYSCTLS" && rm -rf "${HOST_SYSCTLS%/*}"
fi

# 9. What is left: nothing, or a failure that says what.
left=()
for p in $(stray_processes); do left+=("process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"); done
for m in $(our_mounts); do left+=("mount $m"); done
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("link $BRIDGE")
for c in $(cgroup_dirs); do left+=("cgroup $c"); done
iptables -S FORWARD 2>/dev/null | grep -q -- "$RULE_MARK" && left+=("iptables FORWARD rule $RULE_MARK")
for ipt in iptables ip6tables; do for t in filter nat mangle; do
	for ch in $(kube_chains "$ipt" "$t"); do left+=("$ipt -t $t chain $ch"); done
done; done
[ -s "$HOST_SYSCTLS" ] && left+=("sysctls not restored: $HOST_SYSCTLS")
for f in $(cni_cache) /var/lib/kubelet/device-plugins/kubelet.sock; do [ -e "$f" ] && left+=("file $f"); done
if [ ${#left[@]} -gt 0 ]; then
	printf '  %s\n' "${left[@]}" >&2
	die "down: the cluster in $K left the above behind"
fi
# Nothing is mounted under it any more, so removing the state cannot reach
# outside it.
rm -rf "$K/etcd" "$K/kubelet" "$K/containerd" "$K/cni" "$K/run" "$K/pki" "$K/env"
log "down: nothing of the cluster in $K is left"
