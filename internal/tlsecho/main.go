// Command tlsecho is the tests' HTTPS server on the egress side of a
// bottle, and the client inside the agent that talks to it through the
// egress proxy, so that the tests of secrets watch both ends of a request.
//
//	tlsecho serve        HTTPS on :443 with the PEM certificate and key in
//	                     $TLSECHO_CERT and $TLSECHO_KEY: /echo answers with
//	                     the request's protocol and the headers secrets go
//	                     in, /stream is server-sent events, the second
//	                     two seconds after the first
//	tlsecho get [-H 'Name: value']... URL
//	                     a request as common clients make it: through
//	                     $HTTPS_PROXY, trusting the roots of $SSL_CERT_FILE,
//	                     HTTP/2 where offered; the body printed as it
//	                     arrives, each piece after the milliseconds since
//	                     the request and since the piece before
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tlsecho serve | tlsecho get [-H 'Name: value']... URL")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "get":
		err = get(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsecho:", err)
		os.Exit(1)
	}
}

func serve() error {
	cert, err := tls.X509KeyPair([]byte(os.Getenv("TLSECHO_CERT")), []byte(os.Getenv("TLSECHO_KEY")))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto: %s\nx-api-key: %s\nauthorization: %s\n", r.Proto, r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Second)
		io.WriteString(w, "data: second\n\n")
	})
	srv := &http.Server{Addr: ":443", Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	return srv.ListenAndServeTLS("", "")
}

func get(args []string) error {
	header := http.Header{}
	for len(args) > 2 && args[0] == "-H" {
		k, v, ok := strings.Cut(args[1], ":")
		if !ok {
			return fmt.Errorf("-H %q: not Name: value", args[1])
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		args = args[2:]
	}
	if len(args) != 1 {
		return fmt.Errorf("usage: tlsecho get [-H 'Name: value']... URL")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	req.Header = header
	began := time.Now()
	last := began
	res, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	fmt.Printf("status: %d\n", res.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			now := time.Now()
			fmt.Printf("[%dms +%dms] %s", now.Sub(began).Milliseconds(), now.Sub(last).Milliseconds(), buf[:n])
			last = now
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
