// Package egress is the allowlist forward proxy that is a bottle's only way
// out, which bottle-egress serves in the egress sidecar: it lets an agent
// reach the hosts its definition allows, over HTTP and HTTPS (CONNECT), and
// refuses everything else.
//
// Host names are matched as text, never resolved: an entry (see
// rules.ParsePattern) names a DNS name (exactly, or every name below a
// suffix with "*.") or an IPv4 address, and a request is allowed only if the
// name it asks for matches. IPv6 literals are never allowed.
//
// A name that matches may still not lead anywhere: the proxy connects an
// allowed name only to addresses outside the loopback, private, link-local
// and other internal ranges and outside the proxy's own networks (see
// Proxy), so that no DNS answer, however it changes, turns an allowed name
// into a way into the bottle's host or its neighbours. Only an entry that is
// an IPv4 address reaches such an address, and only that one.
//
// The proxy never looks inside a tunnel, with one exception: a proxy given
// secrets (Proxy.Secrets) intercepts the CONNECTs, allowed as any other,
// to its secrets' hosts, answers their TLS under a certificate of an
// authority of its own (Authority, constrained to those hosts), swaps each
// secret's placeholder for its value in the requests' header values, and
// passes them on over TLS of its own to the host, through the same dialer
// and its checks. The agent holds only the placeholder.
package egress

import (
	"fmt"
	"strings"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// Allowlist decides which host and port may be reached. The zero value and
// nil allow nothing.
type Allowlist struct {
	patterns []rules.Pattern
}

// NewAllowlist parses every entry with rules.ParsePattern and returns the
// first error, which names the entry.
func NewAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, e := range entries {
		p, err := rules.ParsePattern(e)
		if err != nil {
			return nil, err
		}
		a.patterns = append(a.patterns, p)
	}
	return a, nil
}

// Allows reports whether host:port may be reached. host is as a client sent
// it: any case, maybe with a trailing dot, maybe an IP address (IPv6 is never
// allowed).
func (a *Allowlist) Allows(host string, port int) bool {
	_, ok := a.match(host, port)
	return ok
}

// match returns the first pattern that allows host:port, taking host as
// Allows does. Which pattern it is matters to the proxy: only one that is an
// IPv4 literal lets a connection go to an internal address.
func (a *Allowlist) match(host string, port int) (rules.Pattern, bool) {
	h, ok := rules.CanonicalHost(host)
	if a == nil || !ok {
		return rules.Pattern{}, false
	}
	for _, p := range a.patterns {
		if p.Port == 0 && port != 80 && port != 443 || p.Port != 0 && port != p.Port {
			continue
		}
		if p.Wildcard && strings.HasSuffix(h, "."+p.Host) || !p.Wildcard && h == p.Host {
			return p, true
		}
	}
	return rules.Pattern{}, false
}

// Patterns returns the entries, normalized.
func (a *Allowlist) Patterns() []string {
	if a == nil {
		return nil
	}
	var s []string
	for _, p := range a.patterns {
		s = append(s, p.String())
	}
	return s
}

// String says the list as the proxy's log does: "nothing", "1 pattern: a",
// "2 patterns: a, b".
func (a *Allowlist) String() string {
	patterns := a.Patterns()
	switch len(patterns) {
	case 0:
		return "nothing"
	case 1:
		return "1 pattern: " + patterns[0]
	}
	return fmt.Sprintf("%d patterns: %s", len(patterns), strings.Join(patterns, ", "))
}
