package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// Proxy is an http.Handler serving as a forward proxy: CONNECT tunnels and
// absolute-form plain HTTP requests to allowed hosts. Its fields must not
// change once it serves requests; its allowlist may, through SetAllow.
//
// An allowed name is never connected to at an address that is loopback,
// private (RFC 1918 or unique local), link-local, carrier-grade NAT,
// unspecified, multicast, broadcast or reserved, IPv4-mapped, on a subnet
// of the proxy's own network interfaces (as they are when it starts), or in
// Deny, whatever the name resolves to; nor at an IPv6 address that carries
// (NAT64, 6to4) an IPv4 one of those. An allowlist entry that is an IPv4
// address leads to that address alone, wherever it is, unless Deny has it
// or it is in 0.0.0.0/8. Every connection attempt is checked as it is made,
// on the address it is made to, so no DNS answer can differ between the
// check and the connection, and none is trusted for later ones.
type Proxy struct {
	// Allow is the allowlist until SetAllow replaces it.
	Allow *Allowlist
	// Log gets one line per request, such as
	// "deny CONNECT example.org:443 from 172.18.0.3"; nil discards them.
	Log io.Writer
	// Deny adds networks the proxy never connects to, beyond those it
	// always refuses to lead a name to. Unlike those, no allowlist entry
	// reaches an address in them, not even one that is the address.
	Deny []netip.Prefix
	// Resolver looks up allowed names; nil means net.DefaultResolver.
	Resolver *net.Resolver

	// Secrets are swapped into the requests to their hosts: a CONNECT
	// that the allowlist allows to a host of a secret is intercepted
	// (see intercept.go) under a certificate Authority signs, which the
	// proxy needs if there are secrets. Each swap is logged as
	// "swap NAME for CONNECT HOST:PORT from CLIENT"; no log line has a
	// secret's value.
	Secrets   []rules.Secret
	Authority *Authority
	// UpstreamRoots verify the hosts of intercepted connections; nil
	// means the system's roots.
	UpstreamRoots *x509.CertPool

	// beforeConnect, if set, is called with each connection attempt the
	// guard lets through and may stop it, so that tests can see where the
	// proxy would connect without leaving the loopback.
	beforeConnect func(netip.AddrPort) error

	logMu    sync.Mutex
	once     sync.Once
	setupErr error
	guard    *guard
	forward  *httputil.ReverseProxy
	secrets  []*secret
	// allow, once SetAllow has set it, is the allowlist in force instead
	// of Allow.
	allow atomic.Pointer[Allowlist]
}

// SetAllow puts a in force for the requests that come after it, at once
// and for all of them together; nil allows nothing. Connections already
// allowed (open tunnels, intercepted connections) keep their verdict.
func (p *Proxy) SetAllow(a *Allowlist) {
	if a == nil {
		a = &Allowlist{}
	}
	p.allow.Store(a)
}

// Allowlist returns the allowlist in force.
func (p *Proxy) Allowlist() *Allowlist {
	if a := p.allow.Load(); a != nil {
		return a
	}
	return p.Allow
}

// allowKey is the context key of the allowlist a request was decided by,
// so that the connection it leads to is checked against the same one even
// if SetAllow has replaced it meanwhile.
type allowKey struct{}

// allowlistFor returns the allowlist ctx's request was decided by, else the
// one in force.
func (p *Proxy) allowlistFor(ctx context.Context) *Allowlist {
	if a, ok := ctx.Value(allowKey{}).(*Allowlist); ok {
		return a
	}
	return p.Allowlist()
}

// dialTimeout bounds connecting to a destination, all its addresses
// together.
const dialTimeout = 10 * time.Second

// hopHeaders are hop-by-hop headers: they concern one connection, so a proxy
// must not pass them on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP tunnels CONNECT requests and forwards absolute-form http://
// requests if the allowlist allows their destination, and refuses anything
// else.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.setup(); err != nil {
		fail(w, "bottle-egress: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// One allowlist decides the request and checks where it connects.
	r = r.WithContext(context.WithValue(r.Context(), allowKey{}, p.Allowlist()))
	switch {
	case r.Method == http.MethodConnect && r.URL.Host != "":
		host, port, err := net.SplitHostPort(r.URL.Host)
		if err != nil {
			fail(w, "bottle-egress: CONNECT needs HOST:PORT", http.StatusBadRequest)
			return
		}
		if addr, ok := p.decide(w, r, host, port); ok {
			if secrets := p.secretsFor(addr); len(secrets) > 0 {
				p.intercept(w, r, addr, secrets)
			} else {
				p.tunnel(w, r, addr)
			}
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
			out.Body = untilRead(w, r.Body)
			p.forward.ServeHTTP(w, out)
		}
	default:
		fail(w, "bottle-egress: this is a forward proxy; set HTTP_PROXY/HTTPS_PROXY to it", http.StatusBadRequest)
	}
}

// untilRead returns body, and lifts the bound on the time to read the
// request (Limits.RequestTimeout) as soon as body has been read to its end:
// the bound is for the request, and the response may stream back for as
// long as the destination sends it. Were it left in place, it would end a
// long response half-way.
func untilRead(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	rc := http.NewResponseController(w)
	if body == nil || body == http.NoBody {
		rc.SetReadDeadline(time.Time{})
		return body
	}
	return &liftAtEOF{ReadCloser: body, lift: func() { rc.SetReadDeadline(time.Time{}) }}
}

type liftAtEOF struct {
	io.ReadCloser
	lift func()
	once sync.Once
}

func (b *liftAtEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

// setup, once, reads the proxy's own networks, which are to stay out of
// reach, and makes the forwarder; Serve calls it before serving, so that
// the networks are those the proxy starts with.
func (p *Proxy) setup() error {
	p.once.Do(func() {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			p.setupErr = fmt.Errorf("cannot tell the proxy's own networks: %w", err)
			return
		}
		p.guard = &guard{own: ownNetworks(addrs), deny: p.Deny}
		for _, sec := range p.Secrets {
			hosts, err := NewAllowlist(sec.Hosts)
			if err != nil {
				p.setupErr = fmt.Errorf("secret %s: %w", clean(sec.Name), err)
				return
			}
			p.secrets = append(p.secrets, &secret{Secret: sec, hosts: hosts})
		}
		if len(p.secrets) > 0 && p.Authority == nil {
			p.setupErr = errors.New("secrets need an authority to intercept their hosts' connections")
			return
		}
		transport := &http.Transport{
			Proxy:       nil, // never chain to a proxy from the environment
			DialContext: p.dial,
			// Pass bodies on as they come instead of asking for gzip
			// and decompressing.
			DisableCompression: true,
			IdleConnTimeout:    90 * time.Second,
		}
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
			// A request's line waits until its connection is settled, so
			// that it says whether the request got through.
			Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				resp, err := transport.RoundTrip(r)
				p.logConnected(r, r.URL.Host, err)
				return resp, err
			}),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				failConnect(w, r.URL.Host, err)
			},
			// Errors after the response has begun are disconnects nobody
			// can act on, and their text is not escaped.
			ErrorLog: log.New(io.Discard, "", 0),
		}
	})
	return p.setupErr
}

// roundTripper makes a function an http.RoundTripper.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// decide reports whether the allowlist lets r reach host:port, and if not,
// logs so and answers 403. If it does, addr is the address to connect to,
// and the request's line is logged once connecting has succeeded or failed.
//
// Both the log and addr use the host as the allowlist compares it (lower
// case, no trailing dot), so that what was checked is what is dialed, and
// log lines read alike however a client spelled the name.
func (p *Proxy) decide(w http.ResponseWriter, r *http.Request, host, port string) (addr string, ok bool) {
	if h, valid := rules.CanonicalHost(host); valid {
		host = h
	}
	n, err := strconv.Atoi(port)
	if err == nil {
		port = strconv.Itoa(n)
	}
	ok = err == nil && p.allowlistFor(r.Context()).Allows(host, n)
	addr = clean(net.JoinHostPort(host, port))
	if !ok {
		p.logDecision(r, "deny", addr, "")
		fail(w, "bottle-egress: "+addr+" is not on this agent's egress allowlist", http.StatusForbidden)
	}
	return addr, ok
}

// logConnected logs the line of r, which the allowlist let reach addr, now
// that connecting has ended with err: a denial if the guard refused the
// address, else an allowed request, with why it failed if it did.
func (p *Proxy) logConnected(r *http.Request, addr string, err error) {
	p.logConnectedNote(r, addr, err, "")
}

// logConnectedNote is logConnected with a note for an allowed request that
// got through.
func (p *Proxy) logConnectedNote(r *http.Request, addr string, err error, note string) {
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		p.logDecision(r, "deny", addr, refused.Error())
	case err != nil:
		p.logDecision(r, "allow", addr, "cannot reach: "+err.Error())
	default:
		p.logDecision(r, "allow", addr, note)
	}
}

// logDecision logs the line of r: the verdict on addr, and note, if any, in
// parentheses.
func (p *Proxy) logDecision(r *http.Request, verdict, addr, note string) {
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	line := fmt.Sprintf("%s %s %s from %s", verdict, clean(r.Method), addr, clean(client))
	if note != "" {
		line += " (" + clean(note) + ")"
	}
	p.logLine(line + "\n")
}

func (p *Proxy) logLine(line string) {
	if p.Log == nil {
		return
	}
	line = p.scrub(line)
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

// fail answers an error and closes the connection after it. A client that
// is refused gets no more requests in on it, and the server does not wait
// for a request body that may never come: it would read on to the end of
// one it could take in before answering (Connection: close spares that),
// and after answering (the read deadline spares that).
func fail(w http.ResponseWriter, msg string, status int) {
	w.Header().Set("Connection", "close")
	http.Error(w, msg, status)
	http.NewResponseController(w).SetReadDeadline(time.Now())
}

// failConnect answers a request whose connection to addr failed with err:
// 403 if the guard refused the address, 502 otherwise. Neither answer says
// more, as the agent is not to learn from it what names resolve to; the log
// line has the details.
func failConnect(w http.ResponseWriter, addr string, err error) {
	if errors.As(err, new(*refusal)) {
		fail(w, "bottle-egress: "+addr+" leads to a local or reserved address, which this proxy does not connect to", http.StatusForbidden)
		return
	}
	fail(w, "bottle-egress: cannot reach "+addr, http.StatusBadGateway)
}

// dial connects to addr, host:port as the allowlist compares it, checking
// each address it tries, as it tries it, against the pattern that allowed
// addr. A name is dialed fully qualified, so that the resolver does not
// try it below its search domains too, where it could mean another host.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(port)
	pattern, ok := p.allowlistFor(ctx).match(host, n)
	if !ok {
		return nil, fmt.Errorf("%s is not on the allowlist", addr)
	}
	if !pattern.IP.IsValid() {
		host += "."
	}
	d := net.Dialer{
		Timeout:  dialTimeout,
		Resolver: p.Resolver,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("cannot check address %q: %v", address, err)
			}
			if refused := p.guard.check(pattern, ap.Addr()); refused != nil {
				return refused
			}
			if p.beforeConnect != nil {
				return p.beforeConnect(ap)
			}
			return nil
		},
	}
	return d.DialContext(ctx, network, net.JoinHostPort(host, port))
}

// tunnel connects the client to addr and copies bytes both ways until both
// directions have ended, each when its source closes or fails.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, addr string) {
	upstream, err := p.dial(r.Context(), "tcp", addr)
	p.logConnected(r, addr, err)
	if err != nil {
		failConnect(w, addr, err)
		return
	}
	defer upstream.Close()
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(w, "bottle-egress: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	defer client.Close()
	// Hijack leaves on the connection whatever deadline the server had set
	// (http.Hijacker says so), such as the one bounding a request
	// (Limits.RequestTimeout); a tunnel lasts as long as its ends keep it
	// open.
	client.SetDeadline(time.Time{})
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
