package egress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestServerDeniedStalledBody: a denied request whose body never comes is
// answered at once, and its connection closed, however the body is framed;
// the server does not wait to read it first.
func TestServerDeniedStalledBody(t *testing.T) {
	tp := newTestProxy(t, "allowed.test")
	for _, framing := range []string{
		"Content-Length: 10000000",
		"Content-Length: 100",
		"Transfer-Encoding: chunked",
		"Content-Length: 100\r\nExpect: 100-continue",
	} {
		conn := tp.dial(t)
		start := time.Now()
		conn.SetDeadline(start.Add(2 * time.Second))
		io.WriteString(conn, "POST http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n"+framing+"\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v after %v", framing, err, time.Since(start))
		}
		checkClosing(t, resp)
		checkResponse(t, resp, 403, "bottle-egress: denied.test:80 is not on this agent's egress allowlist\n")
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%q: after the answer: %v, want the connection closed", framing, err)
		}
		tp.waitClosed(t, framing)
		tp.checkLog(t, "deny POST denied.test:80 from 127.0.0.1\n")
	}
}

// TestServerHeaderLimit: a request whose header fields go on and on is
// answered 431 once they pass the limit, and the server reads little more
// than the limit of them; one within the limit is served.
func TestServerHeaderLimit(t *testing.T) {
	tp := newTestProxy(t)
	filler := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"

	conn := tp.dial(t)
	go func() {
		io.WriteString(conn, "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n")
		for range 1 << 10 { // 1 MiB
			if _, err := io.WriteString(conn, filler); err != nil {
				return
			}
		}
		io.WriteString(conn, "\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("got %s, want 431", resp.Status)
	}
	tp.waitClosed(t, "431")
	if n, most := tp.conns.read.Load(), int64(DefaultLimits.MaxHeaderBytes+8<<10); n > most {
		t.Errorf("the proxy read %d bytes of the request, more than %d", n, most)
	}
	tp.checkLog(t, "")

	_, _, resp = tp.raw(t, "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n"+strings.Repeat(filler, 16)+"\r\n")
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("with 16 KiB of header fields: %s, want 403", resp.Status)
	}
}

// TestServerConnLimit: the proxy serves DefaultLimits.MaxConns connections
// at once, however idle, tunnels included; one more waits, unserved, until
// one of them ends.
func TestServerConnLimit(t *testing.T) {
	tp := newTestProxy(t, "$UP")
	held := make([]net.Conn, DefaultLimits.MaxConns)
	var resp *http.Response
	held[0], _, resp = tp.raw(t, "CONNECT "+tp.up+" HTTP/1.1\r\nHost: "+tp.up+"\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	for i := 1; i < len(held); i++ {
		held[i] = tp.dial(t)
	}
	extra := tp.dial(t)
	io.WriteString(extra, "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n")
	extra.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %d was served beside %d others: %v", len(held)+1, len(held), err)
	}

	held[0].Close() // the tunnel
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("once the tunnel ended: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("once the tunnel ended: %s, want 403", resp.Status)
	}
}

// TestServerHeaderTimeout: a connection whose request stalls before its
// header is complete, or that sends nothing, is dropped at
// Limits.HeaderTimeout.
func TestServerHeaderTimeout(t *testing.T) {
	lim := DefaultLimits
	lim.HeaderTimeout = 200 * time.Millisecond
	tp := serveTestProxy(t, lim, &Proxy{}, "allowed.test")
	for _, sent := range []string{"", "GET http://allowed.test/ HT", "GET http://allowed.test/ HTTP/1.1\r\nHost: allo"} {
		conn := tp.dial(t)
		io.WriteString(conn, sent)
		start := time.Now()
		conn.SetReadDeadline(start.Add(2 * time.Second))
		// net/http answers a request line cut short 400 before closing.
		if b, err := io.ReadAll(conn); err != nil || len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
			t.Errorf("after %q: %q, %v; want the connection closed", sent, b, err)
		}
		if d := time.Since(start); d < lim.HeaderTimeout/2 {
			t.Errorf("after %q: dropped after %v, before the timeout", sent, d)
		}
	}
	tp.checkLog(t, "")
}

// TestServerRequestTimeout: an allowed request whose body stalls is cut off
// at Limits.RequestTimeout: the upstream sees the body end short, and the
// client's connection is closed.
func TestServerRequestTimeout(t *testing.T) {
	lim := DefaultLimits
	lim.RequestTimeout = 300 * time.Millisecond
	tp := serveTestProxy(t, lim, &Proxy{}, "$UP")
	conn := tp.dial(t)
	io.WriteString(conn, "POST http://"+tp.up+"/up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	start := time.Now()
	select {
	case err := <-tp.upstreamBody:
		if err == nil {
			t.Error("the upstream got the whole body")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream is still reading the body")
	}
	conn.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("the connection did not end: %v", err)
	}
	if d := time.Since(start); d < lim.RequestTimeout/2 {
		t.Errorf("cut off after %v, before the timeout", d)
	}
}

// TestServerLongTunnel: a tunnel lasts beyond Limits.RequestTimeout, idle
// or not.
func TestServerLongTunnel(t *testing.T) {
	lim := DefaultLimits
	lim.HeaderTimeout, lim.RequestTimeout = 100*time.Millisecond, 200*time.Millisecond
	tp := serveTestProxy(t, lim, &Proxy{}, "$UP")
	conn, br, resp := tp.raw(t, "CONNECT "+tp.up+" HTTP/1.1\r\nHost: "+tp.up+"\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	for i := range 3 {
		time.Sleep(2 * lim.RequestTimeout)
		io.WriteString(conn, "GET /tunneled HTTP/1.1\r\nHost: tunneled.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %v: %v", time.Duration(i+1)*2*lim.RequestTimeout, err)
		}
		checkResponse(t, resp, 200, "upstream tunneled.test /tunneled\n")
	}
}

// TestServerStreamingResponse: a response may stream back for longer than
// Limits.RequestTimeout, with or without a request body. The bound is a
// second, which sending the request must fit in even on a loaded machine,
// and half the stream's pause.
func TestServerStreamingResponse(t *testing.T) {
	lim := DefaultLimits
	lim.RequestTimeout = streamPause / 2
	tp := serveTestProxy(t, lim, &Proxy{}, "$UP")
	c := tp.client(t)
	for _, body := range []string{"", "a body"} {
		req, _ := http.NewRequest("POST", "http://"+tp.up+"/stream", strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkResponse(t, resp, 200, "first half\nsecond half\n")
	}
}
