package egress

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

const (
	testPlaceholder = "bottle-placeholder-7f3a9c"
	testValue       = "sk-REAL-secret-value-0042"
)

// swapProxy is a proxy with one secret, API_KEY, for the address of a TLS
// upstream on 127.0.0.1 (secretUp) and that of a plain one (plainUp), in
// front of them and of a second TLS upstream (otherUp) that is allowed but
// no host of the secret. The client trusts the bottle's authority, read
// from the ca.pem the proxy wrote, and the upstreams' test authority.
type swapProxy struct {
	url                        *url.URL
	log                        *syncBuffer
	dns                        *fakeDNS
	secretUp, otherUp, plainUp string
	roots                      *x509.CertPool
	// got has each request an upstream got: its header, with
	// X-Upstream (which upstream) and X-Proto set.
	got chan http.Header
	// release lets /sse send its second event.
	release chan struct{}
	// uploaded counts the bytes /upload has read so far.
	uploaded atomic.Int64
	bodies   strings.Builder // every response body the tests read
}

func newSwapProxy(t *testing.T, extraSecretHosts ...string) *swapProxy {
	t.Helper()
	return serveSwapProxy(t, DefaultLimits, extraSecretHosts...)
}

// serveSwapProxy is newSwapProxy within lim.
func serveSwapProxy(t *testing.T, lim Limits, extraSecretHosts ...string) *swapProxy {
	t.Helper()
	sp := &swapProxy{log: &syncBuffer{}, dns: newFakeDNS(), got: make(chan http.Header, 100), release: make(chan struct{})}
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Clone()
			h.Set("X-Upstream", name)
			h.Set("X-Proto", r.Proto)
			h.Set("X-Host", r.Host)
			sp.got <- h
			switch r.URL.Path {
			case "/sse":
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-sp.release:
				case <-time.After(10 * time.Second):
				}
				io.WriteString(w, "data: two\n\n")
			case "/upload":
				n, err := io.Copy(countingWriter{&sp.uploaded}, r.Body)
				fmt.Fprintf(w, "%d %v", n, err)
			case "/download":
				n, _ := strconv.Atoi(r.URL.Query().Get("n"))
				io.Copy(w, io.LimitReader(pattern{}, int64(n)))
			case "/echo":
				w.Header().Set("X-Echo", r.Header.Get("X-Api-Key"))
				io.WriteString(w, "echoed in a header\n")
			default:
				io.WriteString(w, "ok "+name+"\n")
			}
		})
	}
	start := func(name string) *httptest.Server {
		s := httptest.NewUnstartedServer(handler(name))
		s.EnableHTTP2 = true
		// The proxy closes a connection it made for a CONNECT and did
		// not use; the server would say so.
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	secretUp, otherUp := start("secret"), start("other")
	plainUp := httptest.NewServer(handler("plain"))
	t.Cleanup(plainUp.Close)
	sp.secretUp, sp.otherUp, sp.plainUp = secretUp.Listener.Addr().String(), otherUp.Listener.Addr().String(), plainUp.Listener.Addr().String()
	upstreamRoots := x509.NewCertPool()
	upstreamRoots.AddCert(secretUp.Certificate()) // httptest's servers share one certificate

	hosts := append([]string{sp.secretUp, sp.plainUp}, extraSecretHosts...)
	secrets := []rules.Secret{{Name: "API_KEY", Placeholder: testPlaceholder, Value: testValue, Hosts: hosts}}
	ca, err := NewAuthority(hosts)
	if err != nil {
		t.Fatal(err)
	}
	path, err := ca.WriteCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sp.roots = x509.NewCertPool()
	if !sp.roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", path)
	}
	sp.roots.AddCert(secretUp.Certificate())

	allow := append([]string{sp.secretUp, sp.otherUp, sp.plainUp}, extraSecretHosts...)
	al, err := NewAllowlist(allow)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Allow: al, Log: sp.log, Resolver: sp.dns.resolver(), Secrets: secrets, Authority: ca, UpstreamRoots: upstreamRoots}
	p.beforeConnect = func(ap netip.AddrPort) error {
		if ap.Addr() == netip.MustParseAddr("127.0.0.1") {
			return nil
		}
		return errStopped
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Serve(ln, p, lim)
	t.Cleanup(func() { ln.Close() })
	sp.url = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	t.Cleanup(func() { sp.checkNoValue(t) })
	return sp
}

// countingWriter counts what is written to it.
type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// pattern reads as an endless run of bytes that are not all alike.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i % 251)
	}
	return len(p), nil
}

// client returns a client that goes through the proxy, with HTTP/2 to the
// hosts if h2.
func (sp *swapProxy) client(t *testing.T, h2 bool) *http.Client {
	tr := &http.Transport{
		Proxy:             http.ProxyURL(sp.url),
		TLSClientConfig:   &tls.Config{RootCAs: sp.roots},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// do sends a request with the placeholder in X-Api-Key and Authorization
// and returns the response, its body read, and what the upstream got.
func (sp *swapProxy) do(t *testing.T, c *http.Client, method, u string, body io.Reader) (*http.Response, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("X-Api-Key", testPlaceholder)
	req.Header.Set("Authorization", "Bearer "+testPlaceholder)
	req.Header.Set("X-"+testPlaceholder, "name, not value")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sp.bodies.Write(b)
	for _, vs := range resp.Header {
		sp.bodies.WriteString(strings.Join(vs, " "))
	}
	var got http.Header
	select {
	case got = <-sp.got:
	default:
	}
	return resp, string(b), got
}

// checkNoValue checks that no log line and no response the tests read had
// the secret's value.
func (sp *swapProxy) checkNoValue(t *testing.T) {
	if log := sp.log.take(); strings.Contains(log, testValue) {
		t.Errorf("the log has the secret's value:\n%s", log)
	}
	if strings.Contains(sp.bodies.String(), testValue) {
		t.Errorf("a response has the secret's value")
	}
}

func checkSwapped(t *testing.T, got http.Header, upstream string, swapped bool) {
	t.Helper()
	key, bearer := testPlaceholder, "Bearer "+testPlaceholder
	if swapped {
		key, bearer = testValue, "Bearer "+testValue
	}
	if got == nil {
		t.Fatalf("the upstream got no request")
	}
	if u := got.Get("X-Upstream"); u != upstream {
		t.Errorf("request reached %s, want %s", u, upstream)
	}
	if got.Get("X-Api-Key") != key || got.Get("Authorization") != bearer {
		t.Errorf("the upstream got X-Api-Key %q, Authorization %q; want %q, %q", got.Get("X-Api-Key"), got.Get("Authorization"), key, bearer)
	}
	// A header's name is never swapped.
	if got.Get("X-"+testPlaceholder) != "name, not value" {
		t.Errorf("the header named after the placeholder: %v", got)
	}
}

// TestSwap: the placeholder in x-api-key and in a bearer token arrives at
// the secret's host as the value, over HTTP/1.1 and HTTP/2, on one
// kept-alive connection; sent elsewhere, through a tunnel or as plain
// HTTP, it arrives unchanged.
func TestSwap(t *testing.T) {
	sp := newSwapProxy(t)
	for _, h2 := range []bool{false, true} {
		c := sp.client(t, h2)
		wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
		for i := range 2 {
			resp, body, got := sp.do(t, c, "GET", "https://"+sp.secretUp+"/", nil)
			if resp.StatusCode != 200 || body != "ok secret\n" || resp.Proto != wantProto {
				t.Errorf("h2 %v, request %d: %s %s %q", h2, i, resp.Proto, resp.Status, body)
			}
			checkSwapped(t, got, "secret", true)
			if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || resp.TLS.PeerCertificates[0].Issuer.CommonName != AuthorityName {
				t.Errorf("the client was not answered under the bottle's authority: %+v", resp.TLS)
			}
		}
		// Two requests, one CONNECT: the connection was kept alive.
		sp.checkLog(t, "allow CONNECT "+sp.secretUp+" from 127.0.0.1 (intercepted)\n"+
			"swap API_KEY for CONNECT "+sp.secretUp+" from 127.0.0.1\n"+
			"swap API_KEY for CONNECT "+sp.secretUp+" from 127.0.0.1\n")

		// Another allowed host: tunnelled, the upstream's own certificate,
		// the placeholder as it was.
		resp, body, got := sp.do(t, c, "GET", "https://"+sp.otherUp+"/", nil)
		if resp.StatusCode != 200 || body != "ok other\n" || resp.TLS.PeerCertificates[0].Issuer.CommonName == AuthorityName {
			t.Errorf("other host: %s %q", resp.Status, body)
		}
		checkSwapped(t, got, "other", false)
		sp.checkLog(t, "allow CONNECT "+sp.otherUp+" from 127.0.0.1\n")
	}

	// Plain HTTP to a host of the secret: never given it.
	c := sp.client(t, false)
	resp, body, got := sp.do(t, c, "GET", "http://"+sp.plainUp+"/", nil)
	if resp.StatusCode != 200 || body != "ok plain\n" {
		t.Errorf("plain: %s %q", resp.Status, body)
	}
	checkSwapped(t, got, "plain", false)
	sp.checkLog(t, "allow GET "+sp.plainUp+" from 127.0.0.1\n")

	// A denied host.
	_, err := c.Get("https://denied.test/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("denied.test: %v, want 403 to the CONNECT", err)
	}
	sp.checkLog(t, "deny CONNECT denied.test:443 from 127.0.0.1\n")
}

// TestSwapInsideConnection: inside an intercepted connection, a request
// for another host (421), a TRACE and a CONNECT (405) are refused, and a
// response header echoing the value comes back with the placeholder.
func TestSwapInsideConnection(t *testing.T) {
	sp := newSwapProxy(t)
	for _, h2 := range []bool{false, true} {
		c := sp.client(t, h2)
		resp, body, got := sp.do(t, c, "GET", "https://"+sp.secretUp+"/echo", nil)
		checkSwapped(t, got, "secret", true)
		if e := resp.Header.Get("X-Echo"); resp.StatusCode != 200 || e != testPlaceholder {
			t.Errorf("echo: %s, X-Echo %q %q; want the placeholder", resp.Status, e, body)
		}
		resp, body, _ = sp.do(t, c, "TRACE", "https://"+sp.secretUp+"/", nil)
		if resp.StatusCode != 405 {
			t.Errorf("TRACE: %s %q", resp.Status, body)
		}
		req, _ := http.NewRequest("GET", "https://"+sp.secretUp+"/", nil)
		req.Host = "elsewhere.test"
		req.Header.Set("X-Api-Key", testPlaceholder)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host: elsewhere.test: %s %q", resp.Status, b)
		}
		select {
		case h := <-sp.got:
			t.Errorf("the upstream got a refused request: %v", h)
		default:
		}
		sp.checkLogMatches(t, `^allow CONNECT `+sp.secretUp+` from 127\.0\.0\.1 \(intercepted\)
swap API_KEY for CONNECT `+sp.secretUp+` from 127\.0\.0\.1
deny TRACE `+sp.secretUp+` from 127\.0\.0\.1 \(TRACE inside an intercepted connection\)
(allow CONNECT `+sp.secretUp+` from 127\.0\.0\.1 \(intercepted\)
)?deny GET `+sp.secretUp+` from 127\.0\.0\.1 \(request for elsewhere\.test inside an intercepted connection\)
$`)
	}
}

func (sp *swapProxy) checkLog(t *testing.T, want string) {
	t.Helper()
	got := sp.log.take()
	if got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	sp.bodies.WriteString(got)
}

func (sp *swapProxy) checkLogMatches(t *testing.T, pat string) {
	t.Helper()
	got := sp.log.take()
	if !regexp.MustCompile(pat).MatchString(got) {
		t.Errorf("log:\n%s\nwant it to match %s", got, pat)
	}
	sp.bodies.WriteString(got)
}

// TestSwapSSE: a stream of events through the swapping proxy arrives as
// the upstream sends it: the first event while the upstream still holds
// the second.
func TestSwapSSE(t *testing.T) {
	sp := newSwapProxy(t)
	for _, h2 := range []bool{false, true} {
		sp.release = make(chan struct{})
		req, _ := http.NewRequest("GET", "https://"+sp.secretUp+"/sse", nil)
		req.Header.Set("X-Api-Key", testPlaceholder)
		resp, err := sp.client(t, h2).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := <-sp.got; got.Get("X-Api-Key") != testValue {
			t.Errorf("the upstream got X-Api-Key %q", got.Get("X-Api-Key"))
		}
		br := bufio.NewReader(resp.Body)
		first := make(chan string, 1)
		go func() {
			var ev strings.Builder
			for {
				line, err := br.ReadString('\n')
				ev.WriteString(line)
				if err != nil || line == "\n" {
					break
				}
			}
			first <- ev.String()
		}()
		select {
		case ev := <-first:
			if ev != "data: one\n\n" {
				t.Errorf("first event %q", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("h2 %v: the first event has not arrived while the upstream holds the second", h2)
		}
		close(sp.release)
		rest, err := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "data: two\n\n" || err != nil {
			t.Errorf("the rest: %q, %v", rest, err)
		}
		sp.log.take()
	}
}

// TestSwapLargeBodies: 64 MiB up and down, streamed: the upstream reads
// the first half of the upload before the client has sent the second.
func TestSwapLargeBodies(t *testing.T) {
	sp := newSwapProxy(t)
	const size = 64 << 20
	for _, h2 := range []bool{false, true} {
		c := sp.client(t, h2)
		sp.uploaded.Store(0)
		pr, pw := io.Pipe()
		go func() {
			io.Copy(pw, io.LimitReader(pattern{}, size/2))
			for deadline := time.Now().Add(10 * time.Second); sp.uploaded.Load() < 1<<20 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if sp.uploaded.Load() < 1<<20 {
				pw.CloseWithError(errors.New("the upstream has not read the first half"))
				return
			}
			io.Copy(pw, io.LimitReader(pattern{}, size/2))
			pw.Close()
		}()
		resp, body, got := sp.do(t, c, "POST", "https://"+sp.secretUp+"/upload", pr)
		checkSwapped(t, got, "secret", true)
		if want := fmt.Sprintf("%d <nil>", size); resp.StatusCode != 200 || body != want {
			t.Errorf("h2 %v upload: %s %q, want %q", h2, resp.Status, body, want)
		}

		req, _ := http.NewRequest("GET", "https://"+sp.secretUp+"/download?n="+strconv.Itoa(size), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		<-sp.got
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size || err != nil {
			t.Errorf("h2 %v download: %d bytes, %v", h2, n, err)
		}
		sp.log.take()
	}
}

// TestSwapGuard: a host of a secret whose name resolves to the loopback is
// refused by the guard, intercepted or not; only an entry that is the
// address reaches it (as the other tests do).
func TestSwapGuard(t *testing.T) {
	sp := newSwapProxy(t, "secret.test:8443")
	sp.dns.set("secret.test", "127.0.0.1")
	conn, err := net.Dial("tcp", sp.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "CONNECT secret.test:8443 HTTP/1.1\r\nHost: secret.test:8443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, 403, "bottle-egress: secret.test:8443 leads to a local or reserved address, which this proxy does not connect to\n")
	sp.checkLog(t, "deny CONNECT secret.test:8443 from 127.0.0.1 (resolves to 127.0.0.1, a loopback address)\n")
}

// TestSwapUpstreamUnverified: a host whose certificate the proxy cannot
// verify is not given the secret: 502, and the log says why without it.
func TestSwapUpstreamUnverified(t *testing.T) {
	sp := newSwapProxy(t)
	c := sp.client(t, false)
	// The plain upstream is a host of the secret, so a CONNECT to it is
	// intercepted, and it does not speak TLS.
	resp, body, _ := sp.do(t, c, "GET", "https://"+sp.plainUp+"/", nil)
	if resp.StatusCode != 502 || body != "bottle-egress: cannot reach "+sp.plainUp+"\n" {
		t.Errorf("%s %q", resp.Status, body)
	}
	sp.checkLogMatches(t, `^allow CONNECT `+sp.plainUp+` from 127\.0\.0\.1 \(intercepted\)
swap API_KEY for CONNECT `+sp.plainUp+` from 127\.0\.0\.1
allow GET `+sp.plainUp+` from 127\.0\.0\.1 \(cannot reach: .*\)
$`)
}

// TestScrub: a log line that would quote the value has the secret's name
// instead.
func TestScrub(t *testing.T) {
	log := &syncBuffer{}
	p := &Proxy{Log: log, Secrets: []rules.Secret{{Name: "K", Placeholder: "p", Value: testValue, Hosts: []string{"a.test"}}}, Authority: &Authority{}}
	if err := p.setup(); err != nil {
		t.Fatal(err)
	}
	p.logLine("error: bad key " + testValue + "\n")
	if got := log.take(); got != "error: bad key [K]\n" {
		t.Errorf("logged %q", got)
	}
	if err := (&Proxy{Secrets: p.Secrets}).setup(); err == nil {
		t.Error("secrets without an authority: no error")
	}
}

// TestAuthority: the authority's certificate as written, its leaves, and
// its name constraints, which refuse a certificate for any other host even
// when the authority's own key signed it.
func TestAuthority(t *testing.T) {
	a, err := NewAuthority([]string{"api.example.test", "*.wild.test:8443", "10.1.2.3:8443", "API.example.test."})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := a.WriteCert(dir)
	if err != nil || path != filepath.Join(dir, rules.CAFile) {
		t.Fatalf("WriteCert: %q, %v", path, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: %v, %v; want mode 0644", path, fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want ca.pem alone", len(entries))
	}
	b, _ := os.ReadFile(path)
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("ca.pem is not one PEM certificate:\n%s", b)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "PRIVATE") {
		t.Error("ca.pem has a private key")
	}
	if ca.Subject.CommonName != AuthorityName || !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero ||
		ca.KeyUsage != x509.KeyUsageCertSign || ca.SerialNumber.BitLen() < 64 || !ca.PermittedDNSDomainsCritical {
		t.Errorf("authority: %+v", ca)
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", ca.PublicKey)
	}
	if d := time.Until(ca.NotBefore); d > 0 || d < -time.Hour {
		t.Errorf("NotBefore %v from now", d)
	}
	if d := ca.NotAfter.Sub(ca.NotBefore); d > 31*24*time.Hour {
		t.Errorf("valid for %v", d)
	}
	if got := strings.Join(ca.PermittedDNSDomains, " "); got != "api.example.test wild.test" {
		t.Errorf("permitted DNS domains %q", got)
	}
	if len(ca.PermittedIPRanges) != 1 || ca.PermittedIPRanges[0].String() != "10.1.2.3/32" {
		t.Errorf("permitted IP ranges %v", ca.PermittedIPRanges)
	}
	other, _ := NewAuthority([]string{"x.test"})
	if other.cert.SerialNumber.Cmp(a.cert.SerialNumber) == 0 || other.key.Equal(a.key) {
		t.Error("two authorities share a serial or a key")
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	verify := func(leaf *x509.Certificate, name string) error {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		return err
	}
	for _, host := range []string{"api.example.test", "a.wild.test", "10.1.2.3"} {
		c, err := a.leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(c.Leaf, host); err != nil {
			t.Errorf("leaf for %s: %v", host, err)
		}
		if d := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); d > 25*time.Hour {
			t.Errorf("leaf for %s valid for %v", host, d)
		}
		if again, _ := a.leaf(host); again != c {
			t.Errorf("leaf for %s not cached", host)
		}
	}

	// Certificates the authority's key signs for other hosts do not verify.
	forge := func(a *Authority, dns string, ip net.IP) *x509.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dns},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if dns != "" {
			tmpl.DNSNames = []string{dns}
		}
		if ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	for _, c := range []struct {
		dns string
		ip  net.IP
	}{{"evil.test", nil}, {"example.test", nil}, {"wild.test.evil", nil}, {"api.anthropic.com", nil}, {"", net.ParseIP("8.8.8.8")}, {"", net.ParseIP("10.1.2.4")}} {
		name := c.dns
		if c.ip != nil {
			name = c.ip.String()
		}
		err := verify(forge(a, c.dns, c.ip), name)
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) || invalid.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("a certificate for %s signed by the authority: %v, want refused by its name constraints", name, err)
		}
	}
	// An authority for names alone refuses every IP address, and one for
	// addresses alone every name.
	dnsOnly, _ := NewAuthority([]string{"api.example.test"})
	ipOnly, _ := NewAuthority([]string{"10.1.2.3"})
	for _, c := range []struct {
		a    *Authority
		dns  string
		ip   net.IP
		name string
	}{{dnsOnly, "", net.ParseIP("10.1.2.3"), "10.1.2.3"}, {dnsOnly, "", net.ParseIP("2001:db8::1"), "2001:db8::1"}, {ipOnly, "api.example.test", nil, "api.example.test"}} {
		r := x509.NewCertPool()
		r.AddCert(c.a.cert)
		_, err := forge(c.a, c.dns, c.ip).Verify(x509.VerifyOptions{Roots: r, DNSName: c.name})
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) || invalid.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("%s: %v, want refused by the name constraints", c.name, err)
		}
	}
	if _, err := NewAuthority(nil); err == nil {
		t.Error("an authority without hosts")
	}
	if _, err := a.WriteCert(filepath.Join(dir, "missing")); err == nil {
		t.Error("WriteCert to a missing directory: no error")
	}
}

// TestSwapRequestTimeout: on an intercepted connection, as for plain HTTP,
// Limits.RequestTimeout bounds sending a request, body included, but not
// its response, which may stream back for longer; nor the wait between
// requests on a kept-alive connection.
func TestSwapRequestTimeout(t *testing.T) {
	lim := DefaultLimits
	lim.RequestTimeout = 300 * time.Millisecond
	sp := serveSwapProxy(t, lim)
	for _, h2 := range []bool{false, true} {
		c := sp.client(t, h2)
		sp.release = make(chan struct{})
		time.AfterFunc(3*lim.RequestTimeout, func() { close(sp.release) })
		resp, body, _ := sp.do(t, c, "GET", "https://"+sp.secretUp+"/sse", nil)
		if resp.StatusCode != 200 || body != "data: one\n\ndata: two\n\n" {
			t.Errorf("h2 %v: a stream longer than the request timeout: %s %q", h2, resp.Status, body)
		}
		time.Sleep(2 * lim.RequestTimeout)
		resp, body, _ = sp.do(t, c, "GET", "https://"+sp.secretUp+"/", nil)
		if resp.StatusCode != 200 || body != "ok secret\n" {
			t.Errorf("h2 %v: after a pause: %s %q", h2, resp.Status, body)
		}

		// A body that stops half-way is cut off at the bound.
		pr, pw := io.Pipe()
		defer pw.Close()
		go io.WriteString(pw, "the start of a body that never ends")
		start := time.Now()
		req, _ := http.NewRequest("POST", "https://"+sp.secretUp+"/upload", pr)
		req.ContentLength = 1000
		if resp, err := c.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sp.bodies.Write(b)
			if resp.StatusCode == 200 && strings.HasSuffix(string(b), "<nil>") {
				t.Errorf("h2 %v: the stalled body went through: %q", h2, b)
			}
		}
		if d := time.Since(start); d > 5*time.Second || d < lim.RequestTimeout/2 {
			t.Errorf("h2 %v: the stalled request ended after %v", h2, d)
		}
		for len(sp.got) > 0 {
			<-sp.got
		}
		sp.log.take()
	}
}
