package egress

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Main runs the bottle-egress command with os.Args and returns its exit code.
func Main() int { return Run(os.Args[1:], os.Stderr) }

// Run runs bottle-egress with args (without the program name), writing its
// messages and decision lines to stderr. It serves until listening fails and
// returns the exit code: 1 if the listener fails (or the proxy cannot read
// its network interfaces), 2 for bad usage, a bad allowlist or a bad network
// to deny.
func Run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bottle-egress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bottle-egress [-listen ADDR] [-allow PATTERN]... [-deny CIDR]...")
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
	var deny []netip.Prefix
	fs.Func("deny", "never connect to an address in `CIDR`, even for an entry that is the address; repeatable, added to the comma-separated $BOTTLE_EGRESS_DENY", func(s string) error {
		n, err := parseNetwork(s)
		if err == nil {
			deny = append(deny, n)
		}
		return err
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
	for s := range strings.SplitSeq(os.Getenv("BOTTLE_EGRESS_DENY"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := parseNetwork(s)
		if err != nil {
			fmt.Fprintf(stderr, "bottle-egress: $BOTTLE_EGRESS_DENY: %v\n", err)
			return 2
		}
		deny = append(deny, n)
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
	denying := ""
	if len(deny) > 0 {
		var s []string
		for _, n := range deny {
			s = append(s, n.String())
		}
		denying = ", denying " + strings.Join(s, ", ")
	}
	fmt.Fprintf(stderr, "bottle-egress: listening on %s, allowing %s%s\n", ln.Addr(), allowing, denying)

	err = Serve(ln, &Proxy{Allow: allow, Log: stderr, Deny: deny}, DefaultLimits)
	fmt.Fprintf(stderr, "bottle-egress: %v\n", err)
	return 1
}

// parseNetwork parses a -deny network.
func parseNetwork(s string) (netip.Prefix, error) {
	n, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network such as 198.51.100.0/24 or 2001:db8::/32", s)
	}
	return n.Masked(), nil
}
