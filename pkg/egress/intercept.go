package egress

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// A proxy with secrets (Proxy.Secrets) intercepts the CONNECT tunnels to
// their hosts: it answers the client's TLS itself, with a certificate for
// the host that Proxy.Authority signs, reads the requests inside, replaces
// each secret's placeholder with its value in their header values, and
// sends them on over TLS of its own to the host, which it verifies as any
// client would. Every other tunnel stays opaque.

// secret is a rules.Secret as the proxy uses it.
type secret struct {
	rules.Secret
	hosts *Allowlist // Secret.Hosts, which are patterns of the allowlist's grammar
}

// interceptStreams bounds the HTTP/2 streams an agent may have open at once
// on one intercepted connection, each of which may take a connection
// upstream (if the host speaks HTTP/1.1): fewer than net/http's default of
// 250, as the agent's 256 connections would otherwise stand for 64,000.
const interceptStreams = 100

// firstConnFresh is for how long the connection made to check the
// destination when the CONNECT came is used for the first request; one
// older may have been given up by the host, and a new one is made instead.
const firstConnFresh = 5 * time.Second

// limitsKey is the context key under which Serve hands the handler its
// Limits, which an intercepted connection is served within too.
type limitsKey struct{}

// secretsFor returns the secrets whose hosts match addr, host:port as the
// allowlist compares it.
func (p *Proxy) secretsFor(addr string) []*secret {
	if len(p.secrets) == 0 {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return nil
	}
	var match []*secret
	for _, s := range p.secrets {
		if s.hosts.Allows(host, n) {
			match = append(match, s)
		}
	}
	return match
}

// scrub replaces every secret's value in s with its name, so that no log
// line can carry one, whatever a message quoted.
func (p *Proxy) scrub(s string) string {
	for _, sec := range p.secrets {
		if strings.Contains(s, sec.Value) {
			s = strings.ReplaceAll(s, sec.Value, "["+sec.Name+"]")
		}
	}
	return s
}

// interception is one intercepted CONNECT: the client's connection, served
// as HTTPS by a server of its own, and a transport of its own to the host.
type interception struct {
	p       *Proxy
	addr    string // host:port as the allowlist compares it
	host    string
	port    string
	secrets []*secret
	forward *httputil.ReverseProxy

	mu     sync.Mutex
	first  net.Conn // the connection dialed when the CONNECT came, until used
	dialed time.Time
}

// intercept answers a CONNECT to addr, whose host the secrets are for: it
// connects to addr first, as a tunnel does, so that the guard's verdict and
// the log line come before the 200; then it serves the client's connection
// as HTTPS under a certificate for the host, passing each request on to
// addr with the secrets swapped in.
func (p *Proxy) intercept(w http.ResponseWriter, r *http.Request, addr string, secrets []*secret) {
	host, port, _ := net.SplitHostPort(addr)
	cert, err := p.Authority.leaf(host)
	if err != nil {
		p.logDecision(r, "allow", addr, "cannot intercept: "+err.Error())
		fail(w, "bottle-egress: cannot intercept "+addr, http.StatusInternalServerError)
		return
	}
	upstream, err := p.dial(r.Context(), "tcp", addr)
	p.logConnectedNote(r, addr, err, "intercepted")
	if err != nil {
		failConnect(w, addr, err)
		return
	}
	ic := &interception{p: p, addr: addr, host: host, port: port, secrets: secrets, first: upstream, dialed: time.Now()}
	defer ic.closeFirst()
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(w, "bottle-egress: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	client.SetDeadline(time.Time{})
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		return
	}
	tlsConn := tls.Server(&bufferedConn{Conn: client, r: buf.Reader}, &tls.Config{
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})

	transport := &http.Transport{
		Proxy:       nil,
		DialContext: ic.dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    p.UpstreamRoots,
			MinVersion: tls.VersionTLS12,
		},
		TLSHandshakeTimeout: dialTimeout,
		ForceAttemptHTTP2:   true,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	defer transport.CloseIdleConnections()
	ic.forward = &httputil.ReverseProxy{
		Rewrite: ic.rewrite,
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			resp, err := transport.RoundTrip(r)
			if err != nil {
				p.logConnected(r, ic.addr, err)
			}
			return resp, err
		}),
		// Every write is passed on at once: a stream of events arrives
		// as the host sends it.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			ic.scrubHeader(resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			failConnect(w, ic.addr, err)
		},
		ErrorLog:   log.New(io.Discard, "", 0),
		BufferPool: copyBuffers,
	}

	lim, _ := r.Context().Value(limitsKey{}).(Limits)
	done := make(chan struct{})
	var once sync.Once
	srv := &http.Server{
		Handler:           ic,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ReadHeaderTimeout: lim.HeaderTimeout,
		ReadTimeout:       lim.RequestTimeout,
		IdleTimeout:       lim.IdleTimeout,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: interceptStreams},
		// Its messages (failed handshakes, HTTP/2 errors) are about a
		// connection whose requests carry secrets: none is printed.
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				once.Do(func() { close(done) })
			}
		},
	}
	srv.Serve(&oneConnListener{conn: tlsConn, done: done})
}

// closeFirst closes the connection dialed for the CONNECT if no request
// has used it.
func (ic *interception) closeFirst() {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.first != nil {
		ic.first.Close()
		ic.first = nil
	}
}

// dial hands the transport the connection made when the CONNECT came, if
// it is still fresh, and else connects anew through the guarded dialer.
func (ic *interception) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ic.mu.Lock()
	c, fresh := ic.first, time.Since(ic.dialed) < firstConnFresh
	ic.first = nil
	ic.mu.Unlock()
	if c != nil {
		if fresh && addr == ic.addr {
			return c, nil
		}
		c.Close()
	}
	return ic.p.dial(ctx, network, addr)
}

// ServeHTTP passes on a request read from the intercepted connection to
// the host it is for, and refuses one for another host (421), a CONNECT
// and a TRACE (405): the one would leave the host, the other has the host
// echo the request's headers, secrets and all, back to the agent.
func (ic *interception) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := untilRead(w, r.Body)
	switch {
	case r.Method == http.MethodConnect || r.Method == http.MethodTrace:
		ic.p.logDecision(r, "deny", ic.addr, r.Method+" inside an intercepted connection")
		fail(w, "bottle-egress: "+r.Method+" is not passed on to "+ic.addr, http.StatusMethodNotAllowed)
		return
	case !ic.forHost(r.Host):
		ic.p.logDecision(r, "deny", ic.addr, "request for "+r.Host+" inside an intercepted connection")
		fail(w, "bottle-egress: this connection is to "+ic.addr+"; a request for another host needs a connection of its own", http.StatusMisdirectedRequest)
		return
	}
	out := r.WithContext(r.Context())
	out.URL = &url.URL{Scheme: "https", Host: ic.addr, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.Body = body
	ic.forward.ServeHTTP(w, out)
}

// forHost reports whether a request's Host (or HTTP/2 :authority) is the
// host the connection was made to: the same host, and the same port if it
// says one. A request may not name another, which a host serving many
// names (a CDN) could route elsewhere, the secret with it.
func (ic *interception) forHost(hostport string) bool {
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	h, ok := rules.CanonicalHost(host)
	return ok && h == ic.host && (port == "" || port == ic.port)
}

// rewrite makes the request to the host: without hop-by-hop headers, as
// plain HTTP requests are passed on, and with every placeholder of the
// connection's secrets in a header value replaced by the secret's value.
// Header names, the URL and the body are left as they are.
func (ic *interception) rewrite(pr *httputil.ProxyRequest) {
	for _, h := range hopHeaders {
		pr.Out.Header.Del(h)
	}
	for _, sec := range ic.secrets {
		swapped := false
		for _, values := range pr.Out.Header {
			for i, v := range values {
				if strings.Contains(v, sec.Placeholder) {
					values[i] = strings.ReplaceAll(v, sec.Placeholder, sec.Value)
					swapped = true
				}
			}
		}
		if swapped {
			client, _, err := net.SplitHostPort(pr.In.RemoteAddr)
			if err != nil {
				client = pr.In.RemoteAddr
			}
			ic.p.logLine("swap " + clean(sec.Name) + " for CONNECT " + ic.addr + " from " + clean(client) + "\n")
		}
	}
}

// scrubHeader puts back the placeholder wherever a response's header has a
// secret's value, so that a host echoing a request's headers does not hand
// the agent the value. (Bodies are passed on as they are.)
func (ic *interception) scrubHeader(h http.Header) {
	for _, values := range h {
		for i, v := range values {
			for _, sec := range ic.secrets {
				if strings.Contains(v, sec.Value) {
					v = strings.ReplaceAll(v, sec.Value, sec.Placeholder)
				}
			}
			values[i] = v
		}
	}
}

// copyBuffers are the buffers intercepted requests' bodies and responses
// are copied through, shared so that a request does not allocate its own
// 32 KiB.
var copyBuffers = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// bufferedConn reads first what the server had read of the connection
// beyond the CONNECT request (a ClientHello sent eagerly, say).
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// oneConnListener hands a server one connection, then waits until done is
// closed (the connection has ended) and fails, which ends Serve.
type oneConnListener struct {
	conn net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
