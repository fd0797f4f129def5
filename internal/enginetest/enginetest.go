// Package enginetest gives tests a Docker Engine of their own making: the
// real Engine behind a proxy that records every request and can hold or
// fail chosen ones, so that a test can interrupt or break a backend at an
// exact step.
package enginetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Engine returns a client of the Engine that DOCKER_HOST names. When none
// answers, the test is skipped, except under CI=true, where it fails:
// CI must never pass by testing nothing.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker Engine answers: %v", err)
		}
		t.Skipf("no Docker Engine answers: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Hook sees each request before it goes to the Engine. It may block, and it
// may answer the request itself by writing to w and returning true.
type Hook func(w http.ResponseWriter, r *http.Request) (answered bool)

// Proxy is a unix socket that forwards to the Engine.
type Proxy struct {
	Host string // the DOCKER_HOST to give the code under test

	mu       sync.Mutex
	requests []string
}

// Requests returns "METHOD PATH" of every request so far, in order.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// NewProxy starts a proxy in front of the Engine that engine talks to; it
// stops when the test ends.
func NewProxy(t testing.TB, engine *client.Client, hook Hook) *Proxy {
	t.Helper()
	upstream, err := url.Parse(engine.DaemonHost())
	if err != nil || upstream.Scheme != "unix" {
		t.Skipf("the proxy needs an Engine on a unix socket, not %s", engine.DaemonHost())
	}
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Host: "unix://" + sock}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "engine"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", upstream.Path)
		}},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		forward.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}
