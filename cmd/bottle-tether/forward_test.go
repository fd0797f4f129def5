package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen is a listener on loopback with a port of the kernel's choosing.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestForwardRelays: a connection to the forwarder reaches the agent's
// address, both ways, with half-closes passed on; and whatever the client
// sends, the forwarder dials that one address and no other.
func TestForwardRelays(t *testing.T) {
	agentLn := listen(t)
	go func() {
		for {
			c, err := agentLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				got, _ := io.ReadAll(c) // until the client's half-close
				c.Write([]byte("agent got: " + string(got)))
			}()
		}
	}()
	target := agentLn.Addr().String()
	var mu sync.Mutex
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, network+" "+addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	fwd := listen(t)
	var stderr bytes.Buffer
	go relayAll(fwd, target, dial, &stderr)

	for _, msg := range []string{"hello", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET http://10.0.0.1/ HTTP/1.0\r\n\r\n"} {
		c, err := net.Dial("tcp", fwd.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(msg))
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "agent got: "+msg {
			t.Errorf("through the forwarder: %q, %v; want %q", got, err, "agent got: "+msg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 3 {
		t.Errorf("dialed %q, want the agent's address three times", dialed)
	}
	for _, d := range dialed {
		if d != "tcp "+target {
			t.Errorf("dialed %q, want only %q", d, "tcp "+target)
		}
	}
}

// TestForwardAgentDown: with nothing listening at the agent's port, the
// client's connection is closed and the forwarder says why, and goes on.
func TestForwardAgentDown(t *testing.T) {
	gone := listen(t)
	target := gone.Addr().String()
	gone.Close()
	fwd := listen(t)
	var mu sync.Mutex
	var stderr bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) })
	go relayAll(fwd, target, (&net.Dialer{}).DialContext, w)
	for range 2 {
		c, err := net.Dial("tcp", fwd.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Errorf("read %q from a forward to nothing", got)
		}
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(stderr.String(), "bottle-tether: forward: "+target+": ") {
		t.Errorf("stderr = %q, want the failed dial named", stderr.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestForwardArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"forward"}, "bottle-tether: usage: bottle-tether forward AGENT_HOST PORT...\n"},
		{[]string{"forward", "agent"}, "bottle-tether: usage: bottle-tether forward AGENT_HOST PORT...\n"},
		{[]string{"forward", "agent", "0"}, "bottle-tether: forward: PORT \"0\" is not a port (1-65535)\n"},
		{[]string{"forward", "agent", "70000"}, "bottle-tether: forward: PORT \"70000\" is not a port (1-65535)\n"},
		{[]string{"forward", "agent", "+80"}, "bottle-tether: forward: PORT \"+80\" is not a port (1-65535)\n"},
		{[]string{"forward", "agent", "80", "80"}, "bottle-tether: forward: PORT 80 is given twice\n"},
		{[]string{"forward", "a/b", "80"}, "bottle-tether: forward: AGENT_HOST \"a/b\" is not a container name or an IP address\n"},
		{[]string{"forward", "-x", "80"}, "bottle-tether: forward: AGENT_HOST \"-x\" is not a container name or an IP address\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, nil, &stdout, &stderr); code != exitFailure || stderr.String() != tc.want {
			t.Errorf("run(%q) = %d, %q; want %d, %q", tc.args, code, stderr.String(), exitFailure, tc.want)
		}
	}
}
