package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/internal/version"
	"github.com/bottle-dev/bottle/pkg/egress"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// run runs bottle-egress with args (without the program name) and the
// environment getenv reads, printing the version to stdout and its
// messages and decision lines to stderr. It serves until listening fails
// and returns the exit code: 0 for -h and -version, 1 if the listener fails
// (or the proxy cannot read its network interfaces, or cannot write its
// authority's certificate or its allowlist), 2 for bad usage, a bad allowlist, a bad network
// to deny or bad secrets.
//
// With secrets ($BOTTLE_EGRESS_SECRETS), it makes an authority for this
// bottle alone, constrained to the secrets' hosts, and writes its
// certificate to $BOTTLE_EGRESS_STATE_DIR before it listens; see
// egress.NewAuthority.
//
// With $BOTTLE_EGRESS_STATE_DIR, the allowlist in force is that
// directory's file rules.AllowFile, written from the allowlist given if it
// is not there, and read again every 250ms: see egress.AllowWatch.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bottle-egress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bottle-egress [-listen ADDR] [-allow PATTERN]... [-deny CIDR]...")
		fs.PrintDefaults()
	}
	listen := getenv(rules.EnvListen)
	if listen == "" {
		listen = ":" + strconv.Itoa(rules.Port)
	}
	fs.StringVar(&listen, "listen", listen, "listen on `ADDR`; $"+rules.EnvListen+" sets the default")
	var entries []string
	fs.Func("allow", "allow `PATTERN` (HOST, HOST:PORT or *.SUFFIX[:PORT]); repeatable, added to the comma-separated $"+rules.EnvAllow, func(s string) error {
		entries = append(entries, s)
		return nil
	})
	var deny []netip.Prefix
	fs.Func("deny", "never connect to an address in `CIDR`, even for an entry that is the address; repeatable, added to the comma-separated $"+rules.EnvDeny, func(s string) error {
		n, err := parseNetwork(s)
		if err == nil {
			deny = append(deny, n)
		}
		return err
	})
	if status, done := version.ParseFlags(fs, args, stdout); done {
		return status
	}
	entries = append(entries, commaList(getenv(rules.EnvAllow))...)
	allow, err := egress.NewAllowlist(entries)
	if err != nil {
		fmt.Fprintf(stderr, "bottle-egress: allowlist: %v\n", err)
		return 2
	}
	for _, s := range commaList(getenv(rules.EnvDeny)) {
		n, err := parseNetwork(s)
		if err != nil {
			fmt.Fprintf(stderr, "bottle-egress: $%s: %v\n", rules.EnvDeny, err)
			return 2
		}
		deny = append(deny, n)
	}

	secrets, err := rules.DecodeSecrets(getenv(rules.EnvSecrets))
	if err != nil {
		// A JSON syntax error's text quotes a character of the input,
		// which may be one of a secret's.
		if serr := (*json.SyntaxError)(nil); errors.As(err, &serr) {
			err = fmt.Errorf("not a JSON array of secrets: a syntax error at byte %d", serr.Offset)
		}
		fmt.Fprintf(stderr, "bottle-egress: $%s: %v\n", rules.EnvSecrets, err)
		return 2
	}
	proxy := &egress.Proxy{Allow: allow, Log: stderr, Deny: deny, Secrets: secrets}
	if len(secrets) > 0 {
		dir := getenv(rules.EnvStateDir)
		if dir == "" {
			fmt.Fprintf(stderr, "bottle-egress: $%s is set but $%s is not: nowhere to write the authority's certificate\n", rules.EnvSecrets, rules.EnvStateDir)
			return 2
		}
		var hosts []string
		for _, s := range secrets {
			hosts = append(hosts, s.Hosts...)
		}
		ca, err := egress.NewAuthority(hosts)
		if err != nil {
			fmt.Fprintf(stderr, "bottle-egress: cannot make the authority: %v\n", err)
			return 1
		}
		path, err := ca.WriteCert(dir)
		if err != nil {
			fmt.Fprintf(stderr, "bottle-egress: cannot write the authority's certificate: %v\n", err)
			return 1
		}
		proxy.Authority = ca
		fmt.Fprintf(stderr, "bottle-egress: wrote %s, the certificate of this bottle's authority (valid until %s), %s\n",
			path, ca.Certificate().NotAfter.UTC().Format(time.RFC3339), swapping(secrets))
	}

	// The allowlist in force is the state directory's file, which a
	// backend may change while the proxy runs, and which outlives it.
	if dir := getenv(rules.EnvStateDir); dir != "" {
		watch := &egress.AllowWatch{Dir: dir, Proxy: proxy}
		if err := watch.Start(allow); err != nil {
			fmt.Fprintf(stderr, "bottle-egress: %s: %v\n", clean(dir), err)
			return 1
		}
		go watch.Run(context.Background())
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(stderr, "bottle-egress: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "bottle-egress: listening on %s, allowing %s%s\n", ln.Addr(), proxy.Allowlist(), denying(deny))
	err = egress.Serve(ln, proxy, egress.DefaultLimits)
	fmt.Fprintf(stderr, "bottle-egress: %v\n", err)
	return 1
}

// swapping says which secrets the authority's line says the proxy swaps in
// for which hosts: names and hosts, never values.
func swapping(secrets []rules.Secret) string {
	var each []string
	for _, s := range secrets {
		each = append(each, clean(s.Name)+" for "+strings.Join(s.Hosts, ", "))
	}
	return "swapping " + strings.Join(each, "; ")
}

// clean quotes s if it has anything but printable ASCII.
func clean(s string) string {
	for _, c := range []byte(s) {
		if c < ' ' || c > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}

// commaList splits a comma-separated variable, dropping the space around
// each item and empty items.
func commaList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parseNetwork parses a network to deny.
func parseNetwork(s string) (netip.Prefix, error) {
	n, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network such as 198.51.100.0/24 or 2001:db8::/32", s)
	}
	return n.Masked(), nil
}

// denying says what the start-up line says the proxy denies beyond what it
// always refuses, "" for nothing more.
func denying(deny []netip.Prefix) string {
	if len(deny) == 0 {
		return ""
	}
	networks := make([]string, len(deny))
	for i, n := range deny {
		networks[i] = n.String()
	}
	return ", denying " + strings.Join(networks, ", ")
}
