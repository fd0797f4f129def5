#!/usr/bin/env bash
# cluster/up.sh: a single-node Kubernetes for bottle's tests, on this
# machine, as root: etcd, the API server, controller manager, scheduler and
# a kubelet on a private containerd (CRI, runc, cgroupfs) with the CNI
# bridge plugin. Nothing is pulled: the binaries are built from the Go
# module proxy (once per version, kept in the cache directory) and the
# sandbox image from cluster/pause. Everything else lives under
# CLUSTER_DIR, which down.sh empties; the system's and Docker's containerd
# are never touched.
#
#   CLUSTER_DIR=/some/dir cluster/up.sh && . /some/dir/env
#
# It writes CLUSTER_DIR/env: BOTTLE_TEST_KUBECONFIG (the admin kubeconfig)
# and BOTTLE_TEST_CONTAINERD (the socket to import images through, with
# `ctr -n k8s.io images import`). Run again while up, it only says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kubectl() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

write_env() {
	printf 'export BOTTLE_TEST_KUBECONFIG=%s\nexport BOTTLE_TEST_CONTAINERD=%s\n' "$ADMIN_KUBECONFIG" "$SOCK" >"$K/env"
	log "up; for kubectl: export KUBECONFIG=$ADMIN_KUBECONFIG PATH=$KUBE_BIN:\$PATH"
}

# --- what the machine must have ---------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root: it makes a bridge, iptables rules, mounts and cgroups"
for c in go containerd ctr runc ip iptables openssl setsid flock ss sha256sum; do
	command -v "$c" >/dev/null || die "$c not found (make deps installs the Debian packages)"
done
[ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge not found (Debian's containernetworking-plugins)"
# A unix socket's path has room for 107 bytes.
[ ${#K} -le 70 ] || die "CLUSTER_DIR is too long for the sockets under it (${#K} > 70 bytes): $K"

if pid_of kube-apiserver >/dev/null && pid_of kubelet >/dev/null && kubectl get --raw /readyz >/dev/null 2>&1; then
	log "already up in $K"
	write_env
	exit 0
fi
# A cluster that was not torn down (killed, or a machine handed on as it
# was) leaves mounts, cgroups, the bridge and rules behind: clear them, and
# any half-started daemons, before starting anew.
"$HERE/down.sh" >/dev/null 2>&1 || die "could not clear what an earlier cluster left in $K; see: CLUSTER_DIR=$K $HERE/down.sh"
for p in $PORTS; do
	if [ -n "$(ss -Hltn "sport = :$p")" ]; then
		die "port $p is already taken (another cluster on this machine?): $(ss -Hltnp "sport = :$p" | head -1)"
	fi
done
rm -rf "$LOGS" && mkdir -p "$LOGS" "$RUN"

# --- binaries, built once per version ------------------------------------------
# The generated modules live in the cache directory, never in the
# project's go.mod; GOWORK=off, so that a go.work above the cache does not
# take them over.
gobuild() { GOWORK=off CGO_ENABLED=0 go "$@"; }

# Each build_* writes DIR/bin.new and renames it to DIR/bin, so that an
# interrupted build never passes for a finished one (built DIR BINARY), and
# holds DIR/lock, so that two bring-ups on one machine build once.
built() { [ -x "$1/bin/$2" ]; }

build_kube() {
	local dir=$CACHE/k8s-v$KUBE_VERSION
	built "$dir" kubectl && return
	mkdir -p "$dir/src"
	(
		flock 9
		built "$dir" kubectl && exit
		log "building Kubernetes v$KUBE_VERSION (minutes the first time; the Go build cache keeps later builds short)"
		cd "$dir/src"
		# k8s.io/kubernetes replaces its 31 staging modules (k8s.io/api, ...)
		# with directories of its own tree; a module that requires it must
		# pin each to the release of the same minor, v0.MINOR.PATCH.
		local mod
		mod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
		[ -f "$mod" ] || die "k8s.io/kubernetes@v$KUBE_VERSION: go mod download gave no go.mod"
		{
			printf 'module bottle.local/k8s-binaries\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBE_VERSION"
			sed -n '/^replace (/,/^)/p' "$mod" | awk -v v="v0.${KUBE_VERSION#*.}" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "\t" $1 " => " $1 " " v}'
			printf ')\n'
		} >go.mod
		printf '//go:build tools\n\n// The commands built, for go mod tidy to resolve.\npackage tools\n\nimport (\n' >tools.go
		for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done >>tools.go
		printf ')\n' >>tools.go
		GOWORK=off go mod tidy
		# The version each binary reports, and checks its peers' against.
		local x=k8s.io/component-base/version minor=${KUBE_VERSION#*.}
		minor=${minor%%.*}
		rm -rf "$dir/bin.new"
		gobuild build -trimpath -o "$dir/bin.new/" \
			-ldflags "-s -w -X $x.gitVersion=v$KUBE_VERSION -X $x.gitMajor=1 -X $x.gitMinor=$minor -X $x.gitTreeState=clean" \
			k8s.io/kubernetes/cmd/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl}
		rm -rf "$dir/bin" && mv "$dir/bin.new" "$dir/bin"
	) 9>"$dir/lock"
}

build_etcd() {
	local dir=$CACHE/etcd-v$ETCD_VERSION
	built "$dir" etcd && return
	mkdir -p "$dir/src"
	(
		flock 9
		built "$dir" etcd && exit
		log "building etcd v$ETCD_VERSION"
		cd "$dir/src"
		printf 'module bottle.local/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >go.mod
		printf '// Command etcd is etcd'"'"'s own main, from its server module.\npackage main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
		GOWORK=off go mod tidy
		rm -rf "$dir/bin.new"
		gobuild build -trimpath -ldflags '-s -w' -o "$dir/bin.new/etcd" .
		rm -rf "$dir/bin" && mv "$dir/bin.new" "$dir/bin"
	) 9>"$dir/lock"
}

# pause is built as a module of its own, from a copy: whatever state the
# project's go.mod is in does not matter to it.
build_pause() {
	local dir=${PAUSE_BIN%/bin}
	built "$dir" pause && return
	mkdir -p "$dir/src"
	(
		flock 9
		built "$dir" pause && exit
		cp "$HERE/pause/main.go" "$dir/src/main.go"
		printf 'module bottle.local/pause\n\ngo 1.24.0\n' >"$dir/src/go.mod"
		rm -rf "$dir/bin.new"
		(cd "$dir/src" && gobuild build -trimpath -ldflags '-s -w' -o "$dir/bin.new/pause" .)
		rm -rf "$dir/bin" && mv "$dir/bin.new" "$dir/bin"
	) 9>"$dir/lock"
}

build_kube
build_etcd
build_pause

# --- daemons ------------------------------------------------------------------
# start NAME ARGS...: runs the binary NAME in a session of its own, so that
# a Ctrl-C at the terminal that ran make stops the tests but not the
# cluster, which down.sh must find running to take its pods down in order.
start() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

# await WHAT SECONDS NAME CMD...: polls CMD until it succeeds; fails with the
# end of NAME's log when NAME dies first or time runs out.
await() {
	local what=$1 secs=$2 name=$3 end=$((SECONDS + $2))
	shift 3
	until "$@" >/dev/null 2>&1; do
		if ! pid_of "$name" >/dev/null; then
			tail -n 25 "$LOGS/$name.log" >&2
			die "$name exited before $what (log: $LOGS/$name.log)"
		fi
		if [ $SECONDS -ge $end ]; then
			tail -n 25 "$LOGS/$name.log" >&2
			die "$what: not within ${secs}s (log: $LOGS/$name.log)"
		fi
		sleep 0.2
	done
}

# render TEMPLATE OUT: the config files with this cluster's paths and addresses.
render() {
	sed -e "s#@K@#$K#g" -e "s#@BRIDGE@#$BRIDGE#g" -e "s#@NODE_IP@#$NODE_IP#g" \
		-e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" -e "s#@RUNC@#$(command -v runc)#g" \
		"$HERE/$1" >"$2"
	if grep -q '@[A-Z_]*@' "$2"; then die "$1: up.sh leaves $(grep -o '@[A-Z_]*@' "$2" | head -1) unfilled"; fi
}

log "starting in $K"
"$HERE/pki.sh"

# The node's network: the bridge the pods' veths join, with the node address.
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# With bridge netfilter on (Docker loads it), frames between two pods on
# the bridge go through FORWARD, whose policy Docker sets to DROP.
iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_MARK" -j ACCEPT 2>/dev/null ||
	iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_MARK" -j ACCEPT
mkdir -p "$K/cni/net.d"
render cni.conflist "$K/cni/net.d/10-bottle-cluster.conflist"

# The kubelet sets these on the host when it starts; down.sh puts back what
# was there before the first bring-up that has not been torn down.
if [ ! -s "$HOST_SYSCTLS" ]; then
	mkdir -p "${HOST_SYSCTLS%/*}"
	for s in $SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done >"$HOST_SYSCTLS.new" && mv "$HOST_SYSCTLS.new" "$HOST_SYSCTLS"
fi

mkdir -p "$K/containerd"
render containerd.toml "$K/containerd/config.toml"
start containerd containerd --config "$K/containerd/config.toml"
await "containerd answered" 20 containerd ctr -a "$SOCK" version

# The sandbox image, made here as a `docker save` archive of one layer (the
# pause binary) and imported, so that neither a registry nor Docker is needed.
img=$(mktemp -d)
mkdir "$img/rootfs" && cp "$PAUSE_BIN/pause" "$img/rootfs/pause"
tar -C "$img/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$img/layer.tar" pause
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$(go env GOARCH)" "$(sha256sum "$img/layer.tar" | cut -d' ' -f1)" >"$img/config.json"
printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$PAUSE_IMAGE" >"$img/manifest.json"
tar -C "$img" -cf - manifest.json config.json layer.tar | ctr -a "$SOCK" -n k8s.io images import - >/dev/null
rm -rf "$img"

# Tests' data only: etcd need not survive a crash, and fsync is most of
# its start-up and of every write's time on a busy disk.
start etcd "$ETCD_BIN/etcd" --name node1 --data-dir "$K/etcd" --unsafe-no-fsync \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster node1=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
# Only loopback listens; the node address is advertised because the
# kubernetes service's endpoint may not be a loopback address.
start kube-apiserver "$KUBE_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
	--bind-address=127.0.0.1 --secure-port=6443 --advertise-address="$NODE_IP" \
	--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
	--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
	--kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP --profiling=false
await "the API server was ready" 90 kube-apiserver kubectl get --raw /readyz

start kube-controller-manager "$KUBE_BIN/kube-controller-manager" --kubeconfig="$PKI/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false --use-service-account-credentials=true \
	--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt"
start kube-scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig="$PKI/scheduler.kubeconfig" \
	--authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false

mkdir -p "$K/kubelet"
render kubelet.yaml "$K/kubelet/config.yaml"
start kubelet "$KUBE_BIN/kubelet" --config="$K/kubelet/config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
	--root-dir="$K/kubelet/root" --cert-dir="$K/kubelet/pki" --hostname-override="$NODE" --node-ip="$NODE_IP"

node_ready() { [ "$(kubectl get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
await "the node was Ready" 90 kubelet node_ready
# The kubelet reads its configuration leniently: a misspelt field is only
# a line in its log, and the setting silently its default.
if grep -q 'strict decoding error' "$LOGS/kubelet.log"; then
	die "kubelet.yaml: $(grep -o 'strict decoding error[^"]*"[^"]*' "$LOGS/kubelet.log" | head -1)"
fi
# A pod is admitted only once its namespace's service account exists,
# which the controller manager makes.
await "the default service account existed" 60 kube-controller-manager kubectl -n default get serviceaccount default
pid_of kube-scheduler >/dev/null || { tail -n 25 "$LOGS/kube-scheduler.log" >&2; die "kube-scheduler exited (log: $LOGS/kube-scheduler.log)"; }
write_env
