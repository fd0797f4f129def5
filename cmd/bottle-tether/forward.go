package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The bounds of a forwarder: how long it tries to reach the agent for one
// connection, and how many connections it relays at once (more wait to be
// accepted).
const (
	forwardDialTimeout = 10 * time.Second
	forwardMaxConns    = 256
)

// dialFunc is how a forwarder reaches the agent; tests replace it.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// forward is `bottle-tether forward AGENT_HOST PORT...`: the published
// ports of a docker bottle. It listens on every PORT on all of its own
// addresses and relays each connection, byte for byte, to the same PORT
// of AGENT_HOST, the agent's container on the bottle's internal network.
// That address is all it ever dials: nothing a client sends names another.
// It runs until SIGTERM or SIGINT, then exits 0.
func forward(args []string, stderr io.Writer) int {
	if len(args) < 2 {
		return fail(stderr, "usage: bottle-tether forward AGENT_HOST PORT...")
	}
	host, ports, err := forwardArgs(args[0], args[1:])
	if err != nil {
		return fail(stderr, "forward: %v", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var listeners []net.Listener
	for _, p := range ports {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			return fail(stderr, "forward: %v", err)
		}
		listeners = append(listeners, ln)
	}
	dial := (&net.Dialer{Timeout: forwardDialTimeout}).DialContext
	failed := make(chan error, len(ports))
	for i, ln := range listeners {
		go func() { failed <- relayAll(ln, net.JoinHostPort(host, strconv.Itoa(ports[i])), dial, stderr) }()
	}
	select {
	case <-stop:
		return 0
	case err := <-failed:
		return fail(stderr, "forward: %v", err)
	}
}

// forwardArgs checks AGENT_HOST, a container name or an IP address, and
// the ports, 1 to 65535, each once.
func forwardArgs(host string, args []string) (string, []int, error) {
	if host == "" || strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-_:") != "" || strings.HasPrefix(host, "-") {
		return "", nil, fmt.Errorf("AGENT_HOST %q is not a container name or an IP address", host)
	}
	var ports []int
	for _, a := range args {
		p, err := strconv.Atoi(a)
		if err != nil || p < 1 || p > 65535 || strings.Trim(a, "0123456789") != "" {
			return "", nil, fmt.Errorf("PORT %q is not a port (1-65535)", a)
		}
		for _, q := range ports {
			if q == p {
				return "", nil, fmt.Errorf("PORT %d is given twice", p)
			}
		}
		ports = append(ports, p)
	}
	return host, ports, nil
}

// relayAll accepts connections on ln and relays each to target, at most
// forwardMaxConns at once, until ln fails.
func relayAll(ln net.Listener, target string, dial dialFunc, stderr io.Writer) error {
	slots := make(chan struct{}, forwardMaxConns)
	var logMu sync.Mutex
	for {
		slots <- struct{}{}
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				<-slots
				continue
			}
			return err
		}
		go func() {
			defer func() { <-slots }()
			if err := relay(conn, target, dial); err != nil {
				logMu.Lock()
				fmt.Fprintf(stderr, "bottle-tether: forward: %v\n", err)
				logMu.Unlock()
			}
		}()
	}
}

// relay copies in to target and back until both sides have ended, each
// end of the one passed on to the other as a half-close.
func relay(in net.Conn, target string, dial dialFunc) error {
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), forwardDialTimeout)
	out, err := dial(ctx, "tcp", target)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: %v", target, err)
	}
	defer out.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(out, in)
		closeWrite(out)
		close(done)
	}()
	io.Copy(in, out)
	closeWrite(in)
	<-done
	return nil
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
