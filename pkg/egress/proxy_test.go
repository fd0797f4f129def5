package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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

// testProxy serves a Proxy in front of an upstream test server. Its Dial
// sends "allowed.test:80" and "other.test:80" to the upstream and fails for
// anything else, so no traffic leaves 127.0.0.1. handled gets the method
// of every request once ServeHTTP has returned (a tunnel has ended).
type testProxy struct {
	url     *url.URL
	log     *syncBuffer
	handled chan string
	// upstreamHeader is the header of the last request upstream got.
	upstreamHeader chan http.Header
}

func newTestProxy(t *testing.T, allow ...string) *testProxy {
	t.Helper()
	tp := &testProxy{log: &syncBuffer{}, handled: make(chan string, 10), upstreamHeader: make(chan http.Header, 10)}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.upstreamHeader <- r.Header.Clone()
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Up-End", "1")
		io.WriteString(w, "upstream "+r.Host+" "+r.URL.String()+"\n")
	}))
	t.Cleanup(upstream.Close)
	upstreamAddr := upstream.Listener.Addr().String()

	al, err := NewAllowlist(allow)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{
		Allow: al,
		Log:   tp.log,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "allowed.test:80" && addr != "other.test:80" {
				return nil, errors.New("no route to " + addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, upstreamAddr)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(w, r)
		tp.handled <- r.Method
	}))
	t.Cleanup(srv.Close)
	tp.url, _ = url.Parse(srv.URL)
	return tp
}

// client returns an HTTP client using the proxy.
func (tp *testProxy) client(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: http.ProxyURL(tp.url)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// raw sends request to the proxy on a new connection and returns the
// connection, a reader for it, and the response.
func (tp *testProxy) raw(t *testing.T, request string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", tp.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
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

func checkResponse(t *testing.T, resp *http.Response, status int, body string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || string(b) != body || err != nil {
		t.Errorf("got %s %q (%v), want %d %q", resp.Status, b, err, status, body)
	}
}

func TestProxyGet(t *testing.T) {
	tp := newTestProxy(t, "allowed.test", "*.wild.test:8080")
	c := tp.client(t)

	req, _ := http.NewRequest("GET", "http://Allowed.Test./path?q=1", nil)
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
	checkResponse(t, resp, 200, "upstream Allowed.Test. /path?q=1\n")
	h := <-tp.upstreamHeader
	for _, name := range []string{"Connection", "X-Hop", "Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "Te", "Upgrade", "X-Forwarded-For"} {
		if v, ok := h[name]; ok {
			t.Errorf("request header %s: %q passed on", name, v)
		}
	}
	if h.Get("X-End") != "1" {
		t.Errorf("request header X-End lost: %v", h)
	}
	tp.checkLog(t, "allow GET allowed.test:80 from 127.0.0.1\n")

	// A wildcard with a port does not allow the default port, nor the
	// suffix itself.
	for _, u := range []string{"http://a.wild.test/", "http://wild.test:8080/", "http://other.test/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
		if !strings.Contains(host, ":") {
			host += ":80"
		}
		checkResponse(t, resp, 403, "bottle-egress: "+host+" is not on this agent's egress allowlist\n")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q", ct)
		}
		tp.checkLog(t, "deny GET "+host+" from 127.0.0.1\n")
	}

	// POST bodies go through.
	resp, err = c.Post("http://allowed.test/up", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "upstream allowed.test /up\n")
	tp.checkLog(t, "allow POST allowed.test:80 from 127.0.0.1\n")
}

func TestProxyConnect(t *testing.T) {
	tp := newTestProxy(t, "allowed.test:80")

	// The request through the tunnel goes with the CONNECT, as a TLS
	// client's hello may, so it is buffered by the server when it hijacks.
	conn, br, resp := tp.raw(t, "CONNECT allowed.test:80 HTTP/1.1\r\nHost: allowed.test:80\r\n\r\n"+
		"GET /tunneled HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n")
	if resp.Status != "200 Connection established" {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	tp.checkLog(t, "allow CONNECT allowed.test:80 from 127.0.0.1\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 200, "upstream allowed.test /tunneled\n")
	// The upstream closing reaches the client, and the client closing ends
	// the tunnel.
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("after the response: %q, %v", rest, err)
	}
	conn.Close()
	select {
	case m := <-tp.handled:
		if m != "CONNECT" {
			t.Errorf("handled %s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tunnel did not end")
	}

	_, _, resp = tp.raw(t, "CONNECT Allowed.Test.:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
	checkResponse(t, resp, 403, "bottle-egress: allowed.test:443 is not on this agent's egress allowlist\n")
	tp.checkLog(t, "deny CONNECT allowed.test:443 from 127.0.0.1\n")

	// What the allowlist cannot match is shown quoted if need be.
	_, _, resp = tp.raw(t, "CONNECT ex\u00e9.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
	checkResponse(t, resp, 403, "bottle-egress: \"ex\u00e9.test:443\" is not on this agent's egress allowlist\n")
	tp.checkLog(t, "deny CONNECT \"ex\u00e9.test:443\" from 127.0.0.1\n")

	_, _, resp = tp.raw(t, "CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	checkResponse(t, resp, 400, "bottle-egress: CONNECT needs HOST:PORT\n")
	tp.checkLog(t, "")
}

func TestProxyNotProxyRequest(t *testing.T) {
	tp := newTestProxy(t, "allowed.test")
	const body = "bottle-egress: this is a forward proxy; set HTTP_PROXY/HTTPS_PROXY to it\n"

	resp, err := http.Get(tp.url.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 400, body)
	_, _, resp = tp.raw(t, "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	checkResponse(t, resp, 400, body)
	tp.checkLog(t, "")
}

func TestProxyDialFailure(t *testing.T) {
	tp := newTestProxy(t, "down.test", "down.test:8443")

	resp, err := tp.client(t).Get("http://down.test/")
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 502, "bottle-egress: cannot reach down.test:80: no route to down.test:80\n")
	tp.checkLog(t, "allow GET down.test:80 from 127.0.0.1\n")

	_, _, resp = tp.raw(t, "CONNECT DOWN.test.:8443 HTTP/1.1\r\nHost: down.test:8443\r\n\r\n")
	checkResponse(t, resp, 502, "bottle-egress: cannot reach down.test:8443: no route to down.test:8443\n")
	tp.checkLog(t, "allow CONNECT down.test:8443 from 127.0.0.1\n")
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
