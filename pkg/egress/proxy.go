package egress

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// Proxy is an http.Handler serving as a forward proxy: CONNECT tunnels and
// absolute-form plain HTTP requests to allowed hosts. Its fields must not
// change once it serves requests.
type Proxy struct {
	Allow *Allowlist
	// Log gets one line per decision, such as
	// "deny CONNECT example.org:443 from 172.18.0.3"; nil discards them.
	Log io.Writer
	// Dial connects to the destination; nil means a net.Dialer with a 10s
	// timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	logMu   sync.Mutex
	once    sync.Once
	forward *httputil.ReverseProxy
}

// hopHeaders are hop-by-hop headers: they concern one connection, so a proxy
// must not pass them on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP tunnels CONNECT requests and forwards absolute-form http://
// requests if the allowlist allows their destination, and refuses anything
// else.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect && r.URL.Host != "":
		host, port, err := net.SplitHostPort(r.URL.Host)
		if err != nil {
			http.Error(w, "bottle-egress: CONNECT needs HOST:PORT", http.StatusBadRequest)
			return
		}
		if addr, ok := p.decide(w, r, host, port); ok {
			p.tunnel(w, r, addr)
		}
	case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
		port := r.URL.Port()
		if port == "" {
			port = "80"
		}
		if addr, ok := p.decide(w, r, r.URL.Hostname(), port); ok {
			// Forward to addr; the Host header stays as the client sent it.
			u := *r.URL
			u.Host, u.User = addr, nil
			out := r.WithContext(r.Context())
			out.URL = &u
			p.forwarder().ServeHTTP(w, out)
		}
	default:
		http.Error(w, "bottle-egress: this is a forward proxy; set HTTP_PROXY/HTTPS_PROXY to it", http.StatusBadRequest)
	}
}

// decide logs whether r may reach host:port and answers 403 if not. If it
// may, addr is the address to connect to.
//
// Both the log and addr use the host as the allowlist compares it (lower
// case, no trailing dot), so that what was checked is what is dialed, and
// log lines read alike however a client spelled the name.
func (p *Proxy) decide(w http.ResponseWriter, r *http.Request, host, port string) (addr string, ok bool) {
	if h, valid := canonicalHost(host); valid {
		host = h
	}
	n, err := strconv.Atoi(port)
	if err == nil {
		port = strconv.Itoa(n)
	}
	ok = err == nil && p.Allow.Allows(host, n)
	addr = clean(net.JoinHostPort(host, port))
	verdict := "deny"
	if ok {
		verdict = "allow"
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	p.logLine(fmt.Sprintf("%s %s %s from %s\n", verdict, clean(r.Method), addr, clean(client)))
	if !ok {
		http.Error(w, "bottle-egress: "+addr+" is not on this agent's egress allowlist", http.StatusForbidden)
	}
	return addr, ok
}

func (p *Proxy) logLine(line string) {
	if p.Log == nil {
		return
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	p.Log.Write([]byte(line))
}

// clean returns s, or s quoted as by strconv.Quote if it has anything but
// printable ASCII, so that what a client sent cannot forge or break lines.
func clean(s string) string {
	for _, c := range []byte(s) {
		if c < ' ' || c > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}

func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if p.Dial != nil {
		return p.Dial(ctx, network, addr)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// tunnel connects the client to addr and copies bytes both ways until both
// directions have ended, each when its source closes or fails.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, addr string) {
	upstream, err := p.dial(r.Context(), "tcp", addr)
	if err != nil {
		http.Error(w, "bottle-egress: cannot reach "+addr+": "+clean(err.Error()), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "bottle-egress: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	defer client.Close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var wg sync.WaitGroup
	// buf.Reader holds whatever the client sent after the CONNECT request
	// (say, an eager TLS ClientHello) before reading on from client.
	wg.Go(func() { pipe(upstream, buf.Reader, client) })
	pipe(client, upstream, upstream)
	wg.Wait()
}

// pipe copies src, which reads from srcConn, to dst. At the end of the
// stream it closes dst for writing, so that the peer sees it while the other
// direction goes on; after an error, or if dst cannot half-close, it closes
// both connections, which ends the other direction too.
func pipe(dst net.Conn, src io.Reader, srcConn net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); err == nil && ok && cw.CloseWrite() == nil {
		return
	}
	dst.Close()
	srcConn.Close()
}

// forwarder returns the handler for allowed plain HTTP requests.
func (p *Proxy) forwarder() *httputil.ReverseProxy {
	p.once.Do(func() {
		p.forward = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				// ReverseProxy has removed hop-by-hop headers, including
				// those Connection names, in both directions, but puts back
				// "TE: trailers" and those of a protocol upgrade; this
				// proxy passes on neither.
				for _, h := range hopHeaders {
					pr.Out.Header.Del(h)
				}
			},
			Transport: &http.Transport{
				Proxy:       nil, // never chain to a proxy from the environment
				DialContext: p.dial,
				// Pass bodies on as they come instead of asking for gzip
				// and decompressing.
				DisableCompression: true,
				IdleConnTimeout:    90 * time.Second,
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				http.Error(w, "bottle-egress: cannot reach "+r.URL.Host+": "+clean(err.Error()), http.StatusBadGateway)
			},
			// Errors after the response has begun are disconnects nobody
			// can act on, and their text is not escaped.
			ErrorLog: log.New(io.Discard, "", 0),
		}
	})
	return p.forward
}
