package netlock

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests lock network namespaces of their own, never the host's: each
// is held by a file and goes when the test closes it, with the veth pair
// made in it. The programs in them, the lock among them, are this test
// binary run again as a helper (see helper), as root or as another user.

// helperEnv, set, makes the test binary a helper: its arguments say what
// to do.
const helperEnv = "BOTTLE_NETLOCK_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper(os.Args[1:]))
	}
	if os.Geteuid() == 0 {
		helperBin, helperErr = copyHelper()
	}
	code := m.Run()
	if helperBin != "" {
		os.RemoveAll(filepath.Dir(helperBin))
	}
	os.Exit(code)
}

// helper does what args say and returns its exit code:
//
//	lock ARGS...   Run(ARGS)
//	tcp ADDR       connect to ADDR; prints connected or failed
//	udp ADDR       send a datagram to ADDR; prints sent or failed
//	ping ADDR      send an ICMP echo request through a ping socket, as any
//	               user may where ping_group_range lets them; prints reply
//	               or failed
//
// The reason of a failure goes to stderr, which the tests log.
func helper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	if args[0] == "lock" {
		return Run(args[1:], os.Stdout, os.Stderr)
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "helper: want COMMAND ADDR")
		return 2
	}
	var ok string
	var err error
	switch args[0] {
	case "tcp":
		ok = "connected"
		var c net.Conn
		if c, err = net.DialTimeout("tcp", args[1], time.Second); err == nil {
			c.Close()
		}
	case "udp":
		ok = "sent"
		var c net.Conn
		if c, err = net.Dial("udp", args[1]); err == nil {
			_, err = c.Write([]byte("out"))
			c.Close()
		}
	case "ping":
		ok = "reply"
		err = ping(args[1])
	default:
		fmt.Fprintf(os.Stderr, "helper: unknown command %q\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Println("failed")
		return 0
	}
	fmt.Println(ok)
	return 0
}

// ping sends one echo request to the address addr through a ping socket
// and waits a second for the reply.
func ping(addr string) error {
	ip := net.ParseIP(addr)
	family, proto, request, reply := unix.AF_INET6, unix.IPPROTO_ICMPV6, byte(128), byte(129)
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: [16]byte(ip.To16())}
	if ip4 := ip.To4(); ip4 != nil {
		family, proto, request, reply = unix.AF_INET, unix.IPPROTO_ICMP, 8, 0
		sa = &unix.SockaddrInet4{Addr: [4]byte(ip4)}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM, proto)
	if err != nil {
		return fmt.Errorf("ping socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1}); err != nil {
		return err
	}
	// The kernel fills in the identifier and the checksum.
	if err := unix.Sendto(fd, []byte{request, 0, 0, 0, 0, 0, 0, 1}, 0, sa); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	buf := make([]byte, 64)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("receiving: %w", err)
	}
	if n == 0 || buf[0] != reply {
		return fmt.Errorf("not an echo reply: % x", buf[:n])
	}
	return nil
}

// needRoot skips a test that makes network namespaces when it cannot,
// except on CI, which runs as root and must run it, with the tools it
// uses.
func needRoot(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (it makes network namespaces)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (Debian's iproute2 and nftables; make deps installs them)")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs " + strings.Join(missing, ", "))
	}
	t.Skip("needs " + strings.Join(missing, ", "))
}

// helperBin is a copy of the test binary that every user may run: go
// test's own is in a directory only root may enter. It is made before
// any test runs: a file being written cannot be run while another test
// forks, which inherits its descriptor for a moment.
var (
	helperBin string
	helperErr error
)

func copyHelper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "netlock-test")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "helper")
	if err := os.Chmod(dir, 0o755); err != nil {
		return path, err
	}
	return path, os.WriteFile(path, bin, 0o755)
}

func helperBinary(t *testing.T) string {
	t.Helper()
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperBin
}

// newNetns makes a network namespace, held by the file it returns until
// the test ends, with its loopback up as a pod's is and no duplicate
// address detection, so that IPv6 addresses serve at once.
func newNetns(t *testing.T) *os.File {
	t.Helper()
	type made struct {
		f   *os.File
		err error
	}
	ch := make(chan made)
	go func() {
		// Never unlocked: the thread, in the new namespace, ends with
		// this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		ch <- made{f, err}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatal(m.err)
	}
	t.Cleanup(func() { m.f.Close() })
	ip(t, m.f, "link", "set", "lo", "up")
	if err := in(m.f, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/accept_dad", []byte("0"), 0)
	}); err != nil {
		t.Fatal(err)
	}
	return m.f
}

// in runs fn on a thread in the network namespace ns: what fn opens
// (sockets, netlink, /proc/sys/net) and starts (processes) is in ns.
func in(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in another namespace, ends with
		// this goroutine.
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// ip runs ip(8) as root in ns, with the files extra as its descriptors 3
// and on.
func ip(t *testing.T, ns *os.File, args ...string) {
	t.Helper()
	ipExtra(t, ns, nil, args...)
}

func ipExtra(t *testing.T, ns *os.File, extra []*os.File, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", args...)
	cmd.ExtraFiles = extra
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := in(ns, cmd.Run); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// nft is the ruleset of ns as nft(8) lists it.
func nft(t *testing.T, ns *os.File) string {
	t.Helper()
	cmd := exec.Command("nft", "list", "ruleset")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := in(ns, cmd.Run); err != nil {
		t.Fatalf("nft list ruleset: %v\n%s", err, errOut.String())
	}
	return out.String()
}

// result is what a helper did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the helper with args in ns as the user uid (and its group).
func run(t *testing.T, ns *os.File, uid uint32, args ...string) result {
	t.Helper()
	cmd := exec.Command(helperBinary(t), args...)
	cmd.Env = []string{helperEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := in(ns, cmd.Start); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	r := result{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}
	if r.stderr != "" {
		t.Logf("uid %d %s: %s", uid, strings.Join(args, " "), strings.TrimSpace(r.stderr))
	}
	return r
}

// listener counts what reaches a socket of the test's in a namespace.
type listener struct {
	addr string // host:port, the port the kernel chose
	n    atomic.Int64
}

// tcpListener accepts connections on addr in ns and counts them.
func tcpListener(t *testing.T, ns *os.File, addr string) *listener {
	t.Helper()
	var l net.Listener
	if err := in(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c := &listener{addr: l.Addr().String()}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	return c
}

// udpListener counts the datagrams that come to addr in ns.
func udpListener(t *testing.T, ns *os.File, addr string) *listener {
	t.Helper()
	var pc net.PacketConn
	if err := in(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &listener{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			c.n.Add(1)
		}
	}()
	return c
}

// echoListener counts the ICMP echo requests that come to ns, whether or
// not the kernel answers them: network is "ip4:icmp" or "ip6:ipv6-icmp".
func echoListener(t *testing.T, ns *os.File, network string) *listener {
	t.Helper()
	request := byte(8)
	if network == "ip6:ipv6-icmp" {
		request = 128
	}
	var pc net.PacketConn
	if err := in(ns, func() (err error) { pc, err = net.ListenPacket(network, ""); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &listener{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1500)
		for {
			// The message without the IP header.
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n > 0 && buf[0] == request {
				c.n.Add(1)
			}
		}
	}()
	return c
}

// on is the address of l's port on host.
func (l *listener) on(host string) string {
	_, port, _ := net.SplitHostPort(l.addr)
	return net.JoinHostPort(host, port)
}

// wait waits up to two seconds for l to have counted n, and returns what
// it counted then.
func (l *listener) wait(n int64) int64 {
	for deadline := time.Now().Add(2 * time.Second); l.n.Load() < n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// Anything dropped was sent before: had it come, it would be here.
	time.Sleep(50 * time.Millisecond)
	return l.n.Load()
}

// dialFrom connects from ns, as root in the test's own process.
func dialFrom(ns *os.File, addr string) error {
	return in(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}
