package netlock

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	agentUID = 1000  // the agent: another user than the proxy, no capabilities
	proxyUID = 65534 // the egress proxy, the user let out
	otherUID = 1234  // let out by a first lock, which the second replaces
)

// pair is a pod's network namespace and a peer's, another pod or the node,
// joined by a veth pair: the pod is 192.0.2.1 and 2001:db8::1, the peer
// 192.0.2.2, 2001:db8::2 and fe80::2 on the link.
type pair struct{ pod, peer *os.File }

func newPair(t *testing.T) pair {
	t.Helper()
	p := pair{newNetns(t), newNetns(t)}
	ipExtra(t, p.pod, []*os.File{p.peer}, "link", "add", "pod0", "type", "veth", "peer", "name", "peer0", "netns", "/proc/self/fd/3")
	ip(t, p.pod, "addr", "add", "192.0.2.1/24", "dev", "pod0")
	ip(t, p.pod, "addr", "add", "2001:db8::1/64", "dev", "pod0")
	ip(t, p.pod, "link", "set", "pod0", "up")
	ip(t, p.peer, "addr", "add", "192.0.2.2/24", "dev", "peer0")
	ip(t, p.peer, "addr", "add", "2001:db8::2/64", "dev", "peer0")
	ip(t, p.peer, "addr", "add", "fe80::2/64", "dev", "peer0")
	ip(t, p.peer, "link", "set", "peer0", "up")
	// IPv6 serves on a link once it has its carrier, which comes a moment
	// after both ends are up.
	running(t, p.pod, "pod0")
	running(t, p.peer, "peer0")
	return p
}

// running waits up to five seconds for the interface name in ns to have
// its carrier.
func running(t *testing.T, ns *os.File, name string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var up bool
		if err := in(ns, func() error {
			i, err := net.InterfaceByName(name)
			up = err == nil && i.Flags&net.FlagRunning != 0
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no carrier after 5s", name)
		}
	}
}

// What a user sees in a locked pod: the agent reaches nothing off the pod
// by any protocol, the proxy reaches the peer, and the peer cannot open a
// connection into the pod. Each refusal is shown to be the lock's by the
// same attempt succeeding, unlocked or as the proxy.
func TestLock(t *testing.T) {
	t.Parallel()
	needRoot(t)
	p := newPair(t)
	web := tcpListener(t, p.peer, "[::]:0")
	dns := udpListener(t, p.peer, "[::]:0")
	local := tcpListener(t, p.pod, "127.0.0.1:0")
	echo4 := echoListener(t, p.peer, "ip4:icmp")
	echo6 := echoListener(t, p.peer, "ip6:ipv6-icmp")
	served := tcpListener(t, p.pod, "[::]:0") // a server of the agent's
	// Any user may send echo requests, as containerd and Docker let them.
	if err := in(p.pod, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0)
	}); err != nil {
		t.Fatal(err)
	}

	for _, addr := range []string{"192.0.2.2", "2001:db8::2", "fe80::2%pod0"} {
		if r := run(t, p.pod, agentUID, "tcp", web.on(addr)); r.stdout != "connected\n" {
			t.Fatalf("unlocked, the agent to %s: %q, want connected", addr, r.stdout)
		}
	}
	if r := run(t, p.pod, agentUID, "ping", "192.0.2.2"); r.stdout != "reply\n" {
		t.Fatalf("unlocked, the agent's ping: %q, want reply", r.stdout)
	}
	if err := dialFrom(p.peer, served.on("192.0.2.1")); err != nil {
		t.Fatalf("unlocked, the peer to the pod: %v", err)
	}
	if n := web.wait(3); n != 3 {
		t.Fatalf("unlocked, the peer took %d connections, want 3", n)
	}
	if n := served.wait(1); n != 1 {
		t.Fatalf("unlocked, the agent's server took %d connections, want 1", n)
	}
	if n := echo4.wait(1); n != 1 {
		t.Fatalf("unlocked, the peer counted %d echo requests, want 1", n)
	}
	// What the proxy sends over IPv6 below must find its neighbour again,
	// through the lock.
	ip(t, p.pod, "neigh", "flush", "all")
	ip(t, p.peer, "neigh", "flush", "all")

	// Twice: the second lock replaces the first whole.
	for _, uid := range []string{"1234", "65534"} {
		if r := run(t, p.pod, 0, "lock", "-allow-uid", uid); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("lock -allow-uid %s: exit %d, stdout %q, stderr %q; want 0 and nothing", uid, r.code, r.stdout, r.stderr)
		}
	}
	golden, err := os.ReadFile("testdata/ruleset.nft")
	if err != nil {
		t.Fatal(err)
	}
	if got := nft(t, p.pod); got != string(golden) {
		t.Errorf("nft list ruleset in the pod:\n%s\nwant (testdata/ruleset.nft):\n%s", got, golden)
	}

	for _, c := range []struct {
		name string
		uid  uint32
		args []string
		want string    // what the helper says; "" for a UDP send, whose refusal may be silent
		to   *listener // what counts it at the peer
		gets bool      // whether it comes
	}{
		// First what must not arrive, so that anything that did would be
		// counted before what must.
		{"the agent to the peer", agentUID, []string{"tcp", web.on("192.0.2.2")}, "failed", web, false},
		{"the agent to the peer over IPv6", agentUID, []string{"tcp", web.on("2001:db8::2")}, "failed", web, false},
		{"the agent to the peer's link-local address", agentUID, []string{"tcp", web.on("fe80::2%pod0")}, "failed", web, false},
		{"the agent by UDP, as to a DNS server", agentUID, []string{"udp", dns.on("192.0.2.2")}, "", dns, false},
		{"the agent by UDP over IPv6", agentUID, []string{"udp", dns.on("2001:db8::2")}, "", dns, false},
		{"the agent's ping", agentUID, []string{"ping", "192.0.2.2"}, "failed", echo4, false},
		{"the agent's ping over IPv6", agentUID, []string{"ping", "2001:db8::2"}, "failed", echo6, false},
		{"a user the first lock let out", otherUID, []string{"tcp", web.on("192.0.2.2")}, "failed", web, false},

		{"the agent to the proxy on loopback", agentUID, []string{"tcp", local.on("127.0.0.1")}, "connected", local, true},
		{"the proxy to the peer", proxyUID, []string{"tcp", web.on("192.0.2.2")}, "connected", web, true},
		{"the proxy to the peer over IPv6", proxyUID, []string{"tcp", web.on("2001:db8::2")}, "connected", web, true},
		{"the proxy by UDP", proxyUID, []string{"udp", dns.on("192.0.2.2")}, "sent", dns, true},
		{"the proxy's ping", proxyUID, []string{"ping", "192.0.2.2"}, "reply", echo4, true},
		{"the proxy's ping over IPv6", proxyUID, []string{"ping", "2001:db8::2"}, "reply", echo6, true},
	} {
		before := c.to.n.Load()
		r := run(t, p.pod, c.uid, c.args...)
		if r.code != 0 || (c.want != "" && r.stdout != c.want+"\n") {
			t.Errorf("%s: exit %d, %q; want %s", c.name, r.code, r.stdout, c.want)
		}
		want := before
		if c.gets {
			want++
		}
		if got := c.to.wait(want); got != want {
			t.Errorf("%s: counted %d at the other end, want %d", c.name, got-before, want-before)
		}
	}

	for _, addr := range []string{"192.0.2.1", "2001:db8::1"} {
		if err := dialFrom(p.peer, served.on(addr)); err == nil {
			t.Errorf("the peer connected to the agent's server on %s", addr)
		}
	}
	if n := served.wait(1); n != 1 {
		t.Errorf("the agent's server took %d connections from the peer once locked", n-1)
	}
}

// Without -allow-uid nothing but loopback goes out: a bottle without an
// egress proxy is offline.
func TestLockOffline(t *testing.T) {
	t.Parallel()
	needRoot(t)
	p := newPair(t)
	web := tcpListener(t, p.peer, "[::]:0")
	local := tcpListener(t, p.pod, "127.0.0.1:0")
	if r := run(t, p.pod, 0, "lock"); r.code != 0 {
		t.Fatalf("lock: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, p.pod, proxyUID, "tcp", web.on("192.0.2.2")); r.stdout != "failed\n" {
		t.Errorf("the proxy's user to the peer: %q, want failed", r.stdout)
	}
	if r := run(t, p.pod, agentUID, "tcp", local.on("127.0.0.1")); r.stdout != "connected\n" {
		t.Errorf("the agent on loopback: %q, want connected", r.stdout)
	}
	if n := web.wait(0); n != 0 {
		t.Errorf("the peer took %d connections", n)
	}
	if n := local.wait(1); n != 1 {
		t.Errorf("loopback took %d connections, want 1", n)
	}
}

// A lock that cannot be installed says so in one line and fails, so that
// the pod does not start unlocked: here, a user without NET_ADMIN.
func TestLockRefused(t *testing.T) {
	t.Parallel()
	needRoot(t)
	ns := newNetns(t)
	r := run(t, ns, agentUID, "lock", "-allow-uid", "65534")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	const want = "bottle-netlock: not locked: installing table inet bottle: netlink receive: operation not permitted (it needs the capability NET_ADMIN)\n"
	if r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if got := nft(t, ns); got != "" {
		t.Errorf("the namespace's ruleset:\n%s\nwant none", got)
	}
}

// Bad usage is refused before anything is locked (so these run anywhere:
// a lock would be the host's).
func TestRunUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // the beginning of stdout
		err  string // in stderr
	}{
		{[]string{"-allow-uid", "proxy"}, 2, "", `invalid value "proxy" for flag -allow-uid: not a user ID`},
		{[]string{"-allow-uid", "-1"}, 2, "", `invalid value "-1"`},
		{[]string{"-allow-uid", "4294967296"}, 2, "", `invalid value "4294967296"`},
		{[]string{"-allow-uid"}, 2, "", "flag needs an argument"},
		{[]string{"65534"}, 2, "", `bottle-netlock: unexpected argument "65534"`},
		{[]string{"-version"}, 0, "bottle-netlock ", ""},
		{[]string{"-h"}, 0, "", "usage: bottle-netlock [-allow-uid UID]..."},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(c.args, &stdout, &stderr)
		if code != c.code || !strings.HasPrefix(stdout.String(), c.out) || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("Run(%q): exit %d, stdout %q, stderr %q; want %d, stdout from %q, stderr with %q",
				c.args, code, stdout.String(), stderr.String(), c.code, c.out, c.err)
		}
	}
}
