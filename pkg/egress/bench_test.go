package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// benchProxy serves, on the loopback, a TLS upstream (HTTP/1.1) and a proxy
// allowing it: with a secret for it (mode "swap") or without ("tunnel"),
// and returns a client through the proxy that trusts both the upstream and
// the bottle's authority, and the upstream's URL. For mode "direct" the
// client goes to the upstream without the proxy.
func benchProxy(b *testing.B, mode string, keepAlive bool) (*http.Client, string) {
	swap := mode == "swap"
	b.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sse" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok\n")
	}))
	up.Config.ErrorLog = log.New(io.Discard, "", 0)
	up.StartTLS()
	b.Cleanup(up.Close)
	addr := up.Listener.Addr().String()
	upRoots := x509.NewCertPool()
	upRoots.AddCert(up.Certificate())
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())

	al, err := NewAllowlist([]string{addr})
	if err != nil {
		b.Fatal(err)
	}
	p := &Proxy{Allow: al}
	if swap {
		ca, err := NewAuthority([]string{addr})
		if err != nil {
			b.Fatal(err)
		}
		p.Secrets = []rules.Secret{{Name: "API_KEY", Placeholder: testPlaceholder, Value: testValue, Hosts: []string{addr}}}
		p.Authority, p.UpstreamRoots = ca, upRoots
		roots.AddCert(ca.Certificate())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go Serve(ln, p, DefaultLimits)
	b.Cleanup(func() { ln.Close() })
	proxy := http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()})
	if mode == "direct" {
		proxy = nil
	}
	tr := &http.Transport{
		Proxy:               proxy,
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 200,
	}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, "https://" + addr
}

func benchRequests(b *testing.B, keepAlive bool) {
	for _, mode := range []string{"swap", "tunnel"} {
		b.Run(mode, func(b *testing.B) {
			c, u := benchProxy(b, mode, keepAlive)
			req, _ := http.NewRequest("GET", u+"/", nil)
			req.Header.Set("X-Api-Key", testPlaceholder)
			get := func() {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
			get() // the connection, kept alive for the rest
			b.ResetTimer()
			for b.Loop() {
				get()
			}
		})
	}
}

// BenchmarkEgressHTTPS: one HTTPS request with a placeholder in its header
// through the proxy, on a kept-alive connection: through the swapping
// path (TLS terminated and made anew) and through a plain tunnel to the
// same local TLS server.
func BenchmarkEgressHTTPS(b *testing.B) { benchRequests(b, true) }

// BenchmarkEgressHTTPSNewConn: the same with a new connection (a CONNECT
// and a TLS handshake, two of them for swap) for every request.
func BenchmarkEgressHTTPSNewConn(b *testing.B) { benchRequests(b, false) }

// BenchmarkEgressStreams: 100 server-sent-event streams open at once
// through the proxy, each on a connection of its own, and what the whole
// process (client, proxy and upstream) holds for them per stream, heap and
// goroutine stacks, with the first event of each received; "direct" is
// the same streams without the proxy, so that swap or tunnel minus direct
// is what the proxy holds.
func BenchmarkEgressStreams(b *testing.B) {
	const streams = 100
	for _, mode := range []string{"swap", "tunnel", "direct"} {
		b.Run(mode, func(b *testing.B) {
			c, u := benchProxy(b, mode, true)
			var heap, stack float64
			for b.Loop() {
				base := runtime.NumGoroutine()
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				ctx, cancel := context.WithCancel(context.Background())
				var bodies []io.Closer
				for range streams {
					req, _ := http.NewRequestWithContext(ctx, "GET", u+"/sse", nil)
					req.Header.Set("X-Api-Key", testPlaceholder)
					resp, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					if line, err := bufio.NewReader(resp.Body).ReadString('\n'); line != "data: one\n" || err != nil {
						b.Fatalf("%q, %v", line, err)
					}
					bodies = append(bodies, resp.Body)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				heap = float64(int64(m1.HeapInuse)-int64(m0.HeapInuse)) / streams
				stack = float64(int64(m1.StackInuse)-int64(m0.StackInuse)) / streams
				cancel()
				for _, body := range bodies {
					body.Close()
				}
				c.Transport.(*http.Transport).CloseIdleConnections()
				for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > base && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			}
			b.ReportMetric(heap, "heap-B/stream")
			b.ReportMetric(stack, "stack-B/stream")
		})
	}
}
