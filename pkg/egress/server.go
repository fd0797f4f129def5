package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what the proxy's clients can hold of it, so that a client
// cannot wear it down, nor its host's memory. A zero field sets no bound
// (for MaxHeaderBytes, net/http's default of 1 MiB).
type Limits struct {
	// MaxConns bounds the connections served at once, tunnels included;
	// more wait, unaccepted, until one ends.
	MaxConns int
	// MaxHeaderBytes bounds a request's line and header fields (net/http
	// reads 4 KiB beyond it before answering 431).
	MaxHeaderBytes int
	// HeaderTimeout bounds the time to send them.
	HeaderTimeout time.Duration
	// RequestTimeout bounds the time to send a whole request, body
	// included. It ends with the request: a tunnel, or a response
	// streaming back, may last longer.
	RequestTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection.
	IdleTimeout time.Duration
}

// DefaultLimits are those bottle-egress runs with.
//
// 256 connections are more than an agent's tools open at once (a browser
// opens at most 256, package managers tens); with 32 KiB of header fields,
// as many as nginx takes by default, they bound what requests in the making
// can hold to about 256 × 36 KiB read, 9 MiB. A request is mostly sent in
// well under a second; 5 minutes leave room for a large upload over plain
// HTTP (HTTPS goes through tunnels, which this does not bound). Agents
// leave keep-alive connections open; idle ones go after 2 minutes.
var DefaultLimits = Limits{
	MaxConns:       256,
	MaxHeaderBytes: 32 << 10,
	HeaderTimeout:  10 * time.Second,
	RequestTimeout: 5 * time.Minute,
	IdleTimeout:    2 * time.Minute,
}

// Serve serves p on ln within lim until accepting fails, and returns why. It
// closes ln.
func Serve(ln net.Listener, p *Proxy, lim Limits) error {
	if err := p.setup(); err != nil {
		ln.Close()
		return err
	}
	if lim.MaxConns > 0 {
		ln = &limitListener{Listener: ln, slots: make(chan struct{}, lim.MaxConns), closed: make(chan struct{})}
	}
	srv := &http.Server{
		Handler:           p,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ReadHeaderTimeout: lim.HeaderTimeout,
		ReadTimeout:       lim.RequestTimeout,
		IdleTimeout:       lim.IdleTimeout,
		// An intercepted connection is served within the same limits.
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), limitsKey{}, lim)
		},
	}
	return srv.Serve(ln)
}

// limitListener accepts a connection only while fewer than cap(slots) of
// those it accepted are open. golang.org/x/net/netutil.LimitListener does
// the same, but its connections hide CloseWrite, with which a tunnel passes
// on the end of one direction while the other goes on.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close also ends an Accept waiting for a free slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn frees its slot in its listener when closed.
type limitedConn struct {
	net.Conn
	releaseOnce sync.Once
	release     func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(c.release)
	return err
}

func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
