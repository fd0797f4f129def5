package egress

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Main runs the bottle-egress command with os.Args and returns its exit code.
func Main() int { return Run(os.Args[1:], os.Stderr) }

// Run runs bottle-egress with args (without the program name), writing its
// messages and decision lines to stderr. It serves until listening fails and
// returns the exit code: 1 if the listener fails, 2 for bad usage or a bad
// allowlist.
func Run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bottle-egress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bottle-egress [-listen ADDR] [-allow PATTERN]...")
		fs.PrintDefaults()
	}
	listen := os.Getenv("BOTTLE_EGRESS_LISTEN")
	if listen == "" {
		listen = ":3128"
	}
	fs.StringVar(&listen, "listen", listen, "listen on `ADDR`; $BOTTLE_EGRESS_LISTEN sets the default")
	var entries []string
	fs.Func("allow", "allow `PATTERN` (HOST, HOST:PORT or *.SUFFIX[:PORT]); repeatable, added to the comma-separated $BOTTLE_EGRESS_ALLOW", func(s string) error {
		entries = append(entries, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bottle-egress: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	for e := range strings.SplitSeq(os.Getenv("BOTTLE_EGRESS_ALLOW"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	allow, err := NewAllowlist(entries)
	if err != nil {
		fmt.Fprintf(stderr, "bottle-egress: allowlist: %v\n", err)
		return 2
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(stderr, "bottle-egress: %v\n", err)
		return 1
	}
	allowing := "nothing"
	if p := allow.patterns(); len(p) == 1 {
		allowing = "1 pattern: " + p[0]
	} else if len(p) > 1 {
		allowing = fmt.Sprintf("%d patterns: %s", len(p), strings.Join(p, ", "))
	}
	fmt.Fprintf(stderr, "bottle-egress: listening on %s, allowing %s\n", ln.Addr(), allowing)

	srv := &http.Server{
		Handler:           &Proxy{Allow: allow, Log: stderr},
		ReadHeaderTimeout: 10 * time.Second,
		// Agents leave keep-alive connections open; drop idle ones.
		IdleTimeout: 2 * time.Minute,
	}
	err = srv.Serve(ln)
	fmt.Fprintf(stderr, "bottle-egress: %v\n", err)
	return 1
}
