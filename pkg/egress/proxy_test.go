package egress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// syncBuffer is a log the test can read while the proxy writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was logged since the last call.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.b.Reset()
	return s.b.String()
}

// fakeDNS answers the proxy's lookups, so that no test uses real DNS. A name
// it has not been told of does not exist.
type fakeDNS struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr // by fully qualified name
}

func newFakeDNS() *fakeDNS {
	d := &fakeDNS{addrs: map[string][]netip.Addr{}}
	// As the hosts file has it, in case this one does not.
	d.set("localhost", "127.0.0.1", "::1")
	return d
}

// set makes name resolve to addrs from now on.
func (d *fakeDNS) set(name string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var a []netip.Addr
	for _, s := range addrs {
		a = append(a, netip.MustParseAddr(s))
	}
	d.addrs[name+"."] = a
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go d.serve(server)
		return client, nil
	}}
}

// serve answers the query that comes on c. c is no net.PacketConn, so the
// resolver frames messages as over TCP, each after its length in 2 bytes.
func (d *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	var size [2]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return
	}
	q := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(c, q); err != nil {
		return
	}
	// The question follows the 12-byte header: the name as labels, each
	// after its length, up to an empty one; then the type and class.
	var name strings.Builder
	end := 12
	for q[end] != 0 {
		n := int(q[end])
		name.Write(q[end+1 : end+1+n])
		name.WriteByte('.')
		end += 1 + n
	}
	end += 5
	qtype := binary.BigEndian.Uint16(q[end-4:])

	d.mu.Lock()
	addrs := d.addrs[strings.ToLower(name.String())]
	d.mu.Unlock()
	var rcode byte
	if len(addrs) == 0 {
		rcode = 3 // no such name
	}
	var answers [][]byte
	for _, a := range addrs {
		if qtype == 1 && a.Is4() || qtype == 28 && a.Is6() { // A, AAAA
			answers = append(answers, a.AsSlice())
		}
	}
	// The same ID; a response, authoritative, recursion desired and
	// available; one question and the answers.
	m := []byte{q[0], q[1], 0x85, 0x80 | rcode, 0, 1, 0, byte(len(answers)), 0, 0, 0, 0}
	m = append(m, q[12:end]...)
	for _, a := range answers {
		m = append(m, 0xc0, 12) // the name: that of the question
		m = binary.BigEndian.AppendUint16(m, qtype)
		m = append(m, 0, 1, 0, 0, 0, 0) // class IN, TTL 0
		m = binary.BigEndian.AppendUint16(m, uint16(len(a)))
		m = append(m, a...)
	}
	c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...))
}

// watchedListener shows a test the proxy's side of its connections: how
// many bytes it has read on them, and each one it closes.
type watchedListener struct {
	net.Listener
	read   atomic.Int64
	closed chan struct{}
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{TCPConn: c.(*net.TCPConn), l: l}, nil
}

type watchedConn struct {
	*net.TCPConn
	l    *watchedListener
	once sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.l.read.Add(int64(n))
	return n, err
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { c.l.closed <- struct{}{} })
	return c.TCPConn.Close()
}

// errStopped stops a connection the guard let through to an address
// other than 127.0.0.1.
var errStopped = errors.New("test: not connecting beyond the loopback")

// testProxy is a Proxy as bottle-egress serves it, with Serve, in front of
// an upstream test server on 127.0.0.1. The guard lets the proxy reach that
// address only through an allowlist entry that is it, up, which
// newTestProxy's allow entries spell "$UP". Names resolve through dns, not
// real DNS. The proxy connects nowhere but 127.0.0.1: an attempt to go
// anywhere else that the guard lets through is stopped with errStopped and
// goes to attempts.
type testProxy struct {
	url      *url.URL
	up       string
	log      *syncBuffer
	dns      *fakeDNS
	conns    *watchedListener
	attempts chan netip.AddrPort
	// upstreamHeader is the header of each request upstream got, and
	// upstreamBody the error reading its body.
	upstreamHeader chan http.Header
	upstreamBody   chan error
}

// streamPause is how long the upstream's /stream waits between the two
// halves of its answer: long enough that a request bound well under it
// still leaves a loaded machine time to send the request.
const streamPause = 2 * time.Second

// newTestProxy serves a proxy allowing allow, with DefaultLimits.
func newTestProxy(t *testing.T, allow ...string) *testProxy {
	return serveTestProxy(t, DefaultLimits, &Proxy{}, allow...)
}

// serveTestProxy serves p, which it completes, within lim.
func serveTestProxy(t *testing.T, lim Limits, p *Proxy, allow ...string) *testProxy {
	t.Helper()
	tp := &testProxy{
		log:            &syncBuffer{},
		dns:            newFakeDNS(),
		attempts:       make(chan netip.AddrPort, 10),
		upstreamHeader: make(chan http.Header, 10),
		upstreamBody:   make(chan error, 10),
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		select {
		case tp.upstreamHeader <- r.Header.Clone():
		default:
		}
		select {
		case tp.upstreamBody <- err:
		default:
		}
		if r.URL.Path == "/stream" {
			io.WriteString(w, "first half\n")
			w.(http.Flusher).Flush()
			time.Sleep(streamPause)
			io.WriteString(w, "second half\n")
			return
		}
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Up-End", "1")
		io.WriteString(w, "upstream "+r.Host+" "+r.URL.String()+"\n")
	}))
	t.Cleanup(upstream.Close)
	tp.up = upstream.Listener.Addr().String()

	var entries []string
	for _, e := range allow {
		entries = append(entries, strings.ReplaceAll(e, "$UP", tp.up))
	}
	al, err := NewAllowlist(entries)
	if err != nil {
		t.Fatal(err)
	}
	p.Allow, p.Log, p.Resolver = al, tp.log, tp.dns.resolver()
	p.beforeConnect = func(ap netip.AddrPort) error {
		if ap.Addr() == netip.MustParseAddr("127.0.0.1") {
			return nil
		}
		tp.attempts <- ap
		return errStopped
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp.conns = &watchedListener{Listener: ln, closed: make(chan struct{}, 1000)}
	go Serve(tp.conns, p, lim)
	t.Cleanup(func() { ln.Close() })
	tp.url = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	return tp
}

// client returns an HTTP client using the proxy.
func (tp *testProxy) client(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: http.ProxyURL(tp.url)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// dial opens a connection to the proxy, to be closed at the end of the test.
func (tp *testProxy) dial(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", tp.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// raw sends request to the proxy on a new connection and returns the
// connection, a reader for it, and the response.
func (tp *testProxy) raw(t *testing.T, request string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn := tp.dial(t)
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

func (tp *testProxy) checkLog(t *testing.T, want string) {
	t.Helper()
	if got := tp.log.take(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

// checkLogMatches checks that what was logged since the last check matches
// the regular expression pattern.
func (tp *testProxy) checkLogMatches(t *testing.T, pattern string) {
	t.Helper()
	if got := tp.log.take(); !regexp.MustCompile(pattern).MatchString(got) {
		t.Errorf("log:\n%s\nwant it to match %s", got, pattern)
	}
}

// checkNoAttempts checks that the guard let no connection through to
// anywhere but 127.0.0.1.
func (tp *testProxy) checkNoAttempts(t *testing.T) {
	t.Helper()
	select {
	case ap := <-tp.attempts:
		t.Errorf("the proxy tried to connect to %s", ap)
	default:
	}
}

// waitClosed waits for the proxy to close one of its connections.
func (tp *testProxy) waitClosed(t *testing.T, what string) {
	t.Helper()
	select {
	case <-tp.conns.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the proxy has not closed the connection", what)
	}
}

func checkResponse(t *testing.T, resp *http.Response, status int, body string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || string(b) != body || err != nil {
		t.Errorf("got %s %q (%v), want %d %q", resp.Status, b, err, status, body)
	}
}

// checkClosing checks that the proxy ends the connection after resp, an
// error answer.
func checkClosing(t *testing.T, resp *http.Response) {
	t.Helper()
	if !resp.Close {
		t.Errorf("%s without Connection: close", resp.Status)
	}
}

func TestProxyGet(t *testing.T) {
	tp := newTestProxy(t, "$UP", "allowed.test", "*.wild.test:8080")
	c := tp.client(t)

	// The host as the client spelled it, trailing dot and all, reaches
	// the upstream.
	req, _ := http.NewRequest("GET", "http://"+strings.Replace(tp.up, ":", ".:", 1)+"/path?q=1", nil)
	req.Header.Set("Connection", "X-Hop, Upgrade")
	req.Header.Set("X-Hop", "1")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Keep-Alive", "300")
	req.Header.Set("TE", "trailers")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("X-End", "1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Connection", "X-Up-Hop", "Keep-Alive"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("response header %s: %q passed on", h, v)
		}
	}
	if resp.Header.Get("X-Up-End") != "1" {
		t.Errorf("response header X-Up-End lost: %v", resp.Header)
	}
	checkResponse(t, resp, 200, "upstream "+req.Host+" /path?q=1\n")
	h := <-tp.upstreamHeader
	for _, name := range []string{"Connection", "X-Hop", "Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "Te", "Upgrade", "X-Forwarded-For"} {
		if v, ok := h[name]; ok {
			t.Errorf("request header %s: %q passed on", name, v)
		}
	}
	if h.Get("X-End") != "1" {
		t.Errorf("request header X-End lost: %v", h)
	}
	tp.checkLog(t, "allow GET "+tp.up+" from 127.0.0.1\n")

	// A wildcard with a port does not allow the default port, nor the
	// suffix itself.
	for _, u := range []string{"http://a.wild.test/", "http://wild.test:8080/", "http://other.test/", "http://Allowed.Test.:8080/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
		if !strings.Contains(host, ":") {
			host += ":80"
		}
		host = strings.Replace(strings.ToLower(host), ".:", ":", 1)
		checkClosing(t, resp)
		checkResponse(t, resp, 403, "bottle-egress: "+host+" is not on this agent's egress allowlist\n")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q", ct)
		}
		tp.checkLog(t, "deny GET "+host+" from 127.0.0.1\n")
	}

	// POST bodies go through.
	resp, err = c.Post("http://"+tp.up+"/up", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "upstream "+tp.up+" /up\n")
	tp.checkLog(t, "allow POST "+tp.up+" from 127.0.0.1\n")
	tp.checkNoAttempts(t)
}

func TestProxyConnect(t *testing.T) {
	tp := newTestProxy(t, "$UP", "allowed.test:80")

	// The request through the tunnel goes with the CONNECT, as a TLS
	// client's hello may, so it is buffered by the server when it hijacks.
	conn, br, resp := tp.raw(t, "CONNECT "+tp.up+" HTTP/1.1\r\nHost: "+tp.up+"\r\n\r\n"+
		"GET /tunneled HTTP/1.1\r\nHost: tunneled.test\r\nConnection: close\r\n\r\n")
	if resp.Status != "200 Connection established" {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	tp.checkLog(t, "allow CONNECT "+tp.up+" from 127.0.0.1\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "upstream tunneled.test /tunneled\n")
	// The upstream closing reaches the client, and the client closing ends
	// the tunnel.
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("after the response: %q, %v", rest, err)
	}
	conn.Close()
	tp.waitClosed(t, "tunnel")

	_, _, resp = tp.raw(t, "CONNECT Allowed.Test.:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
	checkClosing(t, resp)
	checkResponse(t, resp, 403, "bottle-egress: allowed.test:443 is not on this agent's egress allowlist\n")
	tp.checkLog(t, "deny CONNECT allowed.test:443 from 127.0.0.1\n")

	// What the allowlist cannot match is shown quoted if need be.
	_, _, resp = tp.raw(t, "CONNECT ex\u00e9.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
	checkResponse(t, resp, 403, "bottle-egress: \"ex\u00e9.test:443\" is not on this agent's egress allowlist\n")
	tp.checkLog(t, "deny CONNECT \"ex\u00e9.test:443\" from 127.0.0.1\n")

	_, _, resp = tp.raw(t, "CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	checkClosing(t, resp)
	checkResponse(t, resp, 400, "bottle-egress: CONNECT needs HOST:PORT\n")
	tp.checkLog(t, "")
	tp.checkNoAttempts(t)
}

func TestProxyNotProxyRequest(t *testing.T) {
	tp := newTestProxy(t, "allowed.test")
	const body = "bottle-egress: this is a forward proxy; set HTTP_PROXY/HTTPS_PROXY to it\n"

	resp, err := http.Get(tp.url.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	checkClosing(t, resp)
	checkResponse(t, resp, 400, body)
	_, _, resp = tp.raw(t, "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	checkResponse(t, resp, 400, body)
	tp.checkLog(t, "")
}

// TestProxyDialFailure: a 502 says which host:port could not be reached and
// nothing of why, which may hold addresses and the resolver's words; the log
// line has that. The name is looked up as a fully qualified one.
func TestProxyDialFailure(t *testing.T) {
	tp := newTestProxy(t, "down.test", "down.test:8443", "127.0.0.1:1")

	resp, err := tp.client(t).Get("http://down.test/")
	if err != nil {
		t.Fatal(err)
	}
	checkClosing(t, resp)
	checkResponse(t, resp, 502, "bottle-egress: cannot reach down.test:80\n")
	tp.checkLogMatches(t, `^allow GET down\.test:80 from 127\.0\.0\.1 \(cannot reach: dial tcp: lookup down\.test\.[ :].*no such host\)\n$`)

	_, _, resp = tp.raw(t, "CONNECT DOWN.test.:8443 HTTP/1.1\r\nHost: down.test:8443\r\n\r\n")
	checkResponse(t, resp, 502, "bottle-egress: cannot reach down.test:8443\n")
	tp.checkLogMatches(t, `^allow CONNECT down\.test:8443 from 127\.0\.0\.1 \(cannot reach: dial tcp: lookup down\.test\.[ :].*no such host\)\n$`)

	// Nothing listens on port 1.
	_, _, resp = tp.raw(t, "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n")
	checkResponse(t, resp, 502, "bottle-egress: cannot reach 127.0.0.1:1\n")
	tp.checkLogMatches(t, `^allow CONNECT 127\.0\.0\.1:1 from 127\.0\.0\.1 \(cannot reach: dial tcp 127\.0\.0\.1:1: connect: connection refused\)\n$`)
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"example.org:443": "example.org:443",
		"a\nb":            `"a\nb"`,
		"é":               `"é"`,
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %s, want %s", in, got, want)
		}
	}
}

// connectAndGet asks the proxy for hostPort both ways, CONNECT and plain
// HTTP, each on a connection of its own, and returns the responses, their
// bodies read into body.
func (tp *testProxy) connectAndGet(t *testing.T, hostPort string) (resps []*http.Response, bodies []string) {
	t.Helper()
	for _, line := range []string{"CONNECT " + hostPort, "GET http://" + hostPort + "/"} {
		_, _, resp := tp.raw(t, line+" HTTP/1.1\r\nHost: "+hostPort+"\r\n\r\n")
		var b []byte
		if resp.StatusCode != 200 {
			b, _ = io.ReadAll(resp.Body)
		}
		resps, bodies = append(resps, resp), append(bodies, string(b))
	}
	return resps, bodies
}

// TestProxyInternalNames: allowed names whose DNS answers lead inside the
// bottle's host or its networks are refused, whatever the answer, on both
// paths, before any connection is made.
func TestProxyInternalNames(t *testing.T) {
	cases := []struct{ addr, what string }{
		{"169.254.169.254", "a link-local address"},
		{"10.0.0.5", "a private address"},
		{"172.17.0.1", "a private address"},
		{"192.168.1.1", "a private address"},
		{"100.64.0.1", "a carrier-grade NAT address"},
		{"127.0.0.2", "a loopback address"},
		{"0.0.0.0", "an unspecified address"},
		{"224.0.0.251", "a multicast address"},
		{"255.255.255.255", "a reserved or broadcast address"},
		{"::1", "a loopback address"},
		{"fd00::5", "a unique local address"},
		{"fe80::1", "a link-local address"},
		{"::ffff:10.0.0.5", "a private address"},
		{"64:ff9b::a9fe:a9fe", "a link-local address"},
	}
	// An address of the proxy's own, on a network no range has.
	if addrs, err := net.InterfaceAddrs(); err == nil {
	own:
		for _, n := range ownNetworks(addrs) {
			for _, rr := range refusedRanges {
				if rr.prefix.Overlaps(n) {
					continue own
				}
			}
			addr := n.Addr()
			if n.Contains(addr.Next()) {
				addr = addr.Next()
			}
			cases = append(cases, struct{ addr, what string }{addr.String(), "an address of the proxy's own network " + n.String()})
			break
		}
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			tp := newTestProxy(t, "internal.test:8080")
			tp.dns.set("internal.test", c.addr)
			resps, bodies := tp.connectAndGet(t, "internal.test:8080")
			const body = "bottle-egress: internal.test:8080 leads to a local or reserved address, which this proxy does not connect to\n"
			for i, resp := range resps {
				checkClosing(t, resp)
				if resp.StatusCode != 403 || bodies[i] != body {
					t.Errorf("%s %q, want 403 %q", resp.Status, bodies[i], body)
				}
			}
			// Go dials an IPv4-mapped address as the IPv4 one.
			ip := strings.TrimPrefix(c.addr, "::ffff:")
			if carried := strings.TrimPrefix(c.addr, "64:ff9b::"); carried != c.addr {
				ip += " (169.254.169.254)"
			}
			note := "(resolves to " + ip + ", " + c.what + ")"
			tp.checkLog(t, "deny CONNECT internal.test:8080 from 127.0.0.1 "+note+"\n"+
				"deny GET internal.test:8080 from 127.0.0.1 "+note+"\n")
			tp.checkNoAttempts(t)
		})
	}
}

// TestProxyLoopbackListener: with a real service on the proxy's loopback,
// an entry naming localhost does not reach it, by name or by IPv6; only
// the entry that is the address does.
func TestProxyLoopbackListener(t *testing.T) {
	var conns atomic.Int32
	service := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "loopback service\n")
	}))
	service.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	service.Start()
	t.Cleanup(service.Close)
	_, port, _ := net.SplitHostPort(service.Listener.Addr().String())

	tp := newTestProxy(t, "localhost:"+port)
	resps, _ := tp.connectAndGet(t, "localhost:"+port)
	if resps[0].StatusCode != 403 || resps[1].StatusCode != 403 {
		t.Errorf("localhost: CONNECT %s, GET %s; want 403", resps[0].Status, resps[1].Status)
	}
	_, _, resp := tp.raw(t, "GET http://[::1]:"+port+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	checkResponse(t, resp, 403, "bottle-egress: [::1]:"+port+" is not on this agent's egress allowlist\n")
	tp.checkLogMatches(t, `^deny CONNECT localhost:`+port+` from 127\.0\.0\.1 \(resolves to (127\.0\.0\.1|::1), a loopback address\)
deny GET localhost:`+port+` from 127\.0\.0\.1 \(resolves to (127\.0\.0\.1|::1), a loopback address\)
deny GET \[::1\]:`+port+` from 127\.0\.0\.1
$`)
	if n := conns.Load(); n != 0 {
		t.Errorf("the service got %d connections", n)
	}

	tp = newTestProxy(t, "127.0.0.1:"+port)
	conn, br, resp := tp.raw(t, "CONNECT 127.0.0.1:"+port+" HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT 127.0.0.1: %s", resp.Status)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "loopback service\n")
	conn.Close()
	resp, err = tp.client(t).Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "loopback service\n")
	tp.checkLog(t, "allow CONNECT 127.0.0.1:"+port+" from 127.0.0.1\nallow GET 127.0.0.1:"+port+" from 127.0.0.1\n")
	if n := conns.Load(); n != 2 {
		t.Errorf("the service got %d connections, want 2", n)
	}
}

// TestProxyRebinding: a name that resolved to a public address once, and so
// was connected to, then resolves to an internal one; nothing of the first
// time lets the second connection through.
func TestProxyRebinding(t *testing.T) {
	tp := newTestProxy(t, "rebind.test")
	public := publicAddr(t)
	for _, path := range []string{"CONNECT rebind.test:80 HTTP/1.1", "GET http://rebind.test/ HTTP/1.1"} {
		tp.dns.set("rebind.test", public)
		_, _, resp := tp.raw(t, path+"\r\nHost: rebind.test\r\n\r\n")
		checkResponse(t, resp, 502, "bottle-egress: cannot reach rebind.test:80\n")
		if ap := <-tp.attempts; ap.String() != public+":80" {
			t.Errorf("connected to %s", ap)
		}
		method, _, _ := strings.Cut(path, " ")
		tp.checkLog(t, "allow "+method+" rebind.test:80 from 127.0.0.1 (cannot reach: dial tcp "+public+":80: "+errStopped.Error()+")\n")

		tp.dns.set("rebind.test", "169.254.169.254")
		_, _, resp = tp.raw(t, path+"\r\nHost: rebind.test\r\n\r\n")
		if resp.StatusCode != 403 {
			t.Errorf("%s after rebinding: %s", path, resp.Status)
		}
		tp.checkLog(t, "deny "+method+" rebind.test:80 from 127.0.0.1 (resolves to 169.254.169.254, a link-local address)\n")
		tp.checkNoAttempts(t)
	}
}

// TestProxyMixedAnswers: of a name's addresses, every one the dialer tries,
// in either family, is checked; only the public one is tried for real.
func TestProxyMixedAnswers(t *testing.T) {
	tp := newTestProxy(t, "mixed.test")
	public := publicAddr(t)
	tp.dns.set("mixed.test", "10.0.0.5", "fd00::5", public, "::ffff:127.0.0.1", "fe80::1")
	for _, path := range []string{"CONNECT mixed.test:443 HTTP/1.1", "GET http://mixed.test/ HTTP/1.1"} {
		_, _, resp := tp.raw(t, path+"\r\nHost: mixed.test\r\n\r\n")
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 502 {
			t.Errorf("%s: %s", path, resp.Status)
		}
		if ap := <-tp.attempts; ap.Addr().String() != public {
			t.Errorf("%s: connected to %s", path, ap)
		}
		tp.checkNoAttempts(t)
	}
}

// TestProxyDeny: Proxy.Deny holds even against an entry that is the address.
func TestProxyDeny(t *testing.T) {
	tp := serveTestProxy(t, DefaultLimits, &Proxy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/24")}}, "$UP", "public.test")
	public := publicAddr(t)
	tp.dns.set("public.test", public)
	_, _, resp := tp.raw(t, "GET http://"+tp.up+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("GET %s: %s", tp.up, resp.Status)
	}
	tp.checkLog(t, "deny GET "+tp.up+" from 127.0.0.1 (127.0.0.1 is in 127.0.0.0/24, which this proxy denies)\n")
	if h := len(tp.upstreamHeader); h != 0 {
		t.Errorf("the upstream got %d requests", h)
	}
	// Other addresses are not affected.
	_, _, resp = tp.raw(t, "GET http://public.test/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 502 || (<-tp.attempts).Addr().String() != public {
		t.Errorf("GET public.test: %s", resp.Status)
	}
}

// publicAddr returns an address the guard lets a name lead to, as a public
// one: a documentation address, unless this host has it on its networks.
// The proxy in tests never connects to it (see errStopped).
func publicAddr(t *testing.T) string {
	t.Helper()
	const public = "198.51.100.7"
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if refused := (&guard{own: ownNetworks(addrs)}).check(rules.Pattern{}, netip.MustParseAddr(public)); refused != nil {
		t.Skipf("%s is on this host's networks: %v", public, refused)
	}
	return public
}
