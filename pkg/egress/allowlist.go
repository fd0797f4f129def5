// Package egress is the allowlist forward proxy that is a bottle's only way
// out: it lets an agent reach the hosts its definition allows, over HTTP and
// HTTPS (CONNECT), and refuses everything else.
//
// Host names are matched as text, never resolved: an entry names a DNS name
// (exactly, or every name below a suffix with "*.") or an IPv4 address, and a
// request is allowed only if the name it asks for matches. IPv6 literals are
// never allowed.
//
// A name that matches may still not lead anywhere: the proxy connects an
// allowed name only to addresses outside the loopback, private, link-local
// and other internal ranges and outside the proxy's own networks (see
// Proxy), so that no DNS answer, however it changes, turns an allowed name
// into a way into the bottle's host or its neighbours. Only an entry that is
// an IPv4 address reaches such an address, and only that one.
package egress

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// rule is a parsed allowlist entry.
type rule struct {
	host     string // lower case, no trailing dot; for a wildcard, the suffix after "*."
	wildcard bool
	port     int        // 0 means 80 and 443
	ip       netip.Addr // host as an address if it is an IPv4 literal, else the zero Addr
}

func (r rule) String() string {
	s := r.host
	if r.wildcard {
		s = "*." + s
	}
	if r.port != 0 {
		s += ":" + strconv.Itoa(r.port)
	}
	return s
}

// ParsePattern checks one allowlist entry and returns it normalized (lower
// case, no trailing dot on the host).
//
// An entry is HOST or HOST:PORT. HOST is a DNS name, an IPv4 address, or
// "*." and a DNS name, which matches every name strictly below that suffix
// but not the suffix itself. PORT is 1 to 65535; without it the entry allows
// ports 80 and 443. Errors name the entry and say what is wrong with it.
func ParsePattern(entry string) (string, error) {
	r, err := parse(entry)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

func parse(entry string) (rule, error) {
	fail := func(reason string) (rule, error) {
		return rule{}, fmt.Errorf("%q%s", entry, reason)
	}
	switch {
	case entry == "":
		return fail(": empty; give a host name")
	case strings.IndexFunc(entry, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0:
		return fail(": contains whitespace or control characters")
	case strings.IndexFunc(entry, func(c rune) bool { return c > unicode.MaxASCII }) >= 0:
		return fail(": not ASCII; write international names in their punycode (xn--) form")
	case strings.Contains(entry, "://"):
		return fail(" is a URL; give the host name alone")
	case strings.ContainsAny(entry, "/?#"):
		return fail(" has a path; give the host name alone")
	case strings.Contains(entry, "@"):
		return fail(" has user info; give the host name alone")
	case strings.HasPrefix(entry, "[") || strings.Count(entry, ":") > 1:
		return fail(": IPv6 addresses are not supported")
	}

	var r rule
	host, port, hasPort := strings.Cut(entry, ":")
	if hasPort {
		n, err := strconv.Atoi(port)
		if strings.Trim(port, "0123456789") != "" || err != nil || n < 1 || n > 65535 {
			return fail(": port must be 1 to 65535")
		}
		r.port = n
	}
	host = strings.TrimSuffix(host, ".")
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		r.wildcard = true
		host = rest
	}
	switch {
	case strings.Contains(host, "*") || r.wildcard && host == "":
		return fail(` is not a host name or "*.suffix" pattern`)
	case host == "":
		return fail(": missing host name")
	}
	if problem := hostProblem(host, r.wildcard); problem != "" {
		return fail(": " + problem)
	}
	r.host = strings.ToLower(host)
	// hostProblem has let host through, so it is a DNS name, on which
	// ParseAddr fails, or an IPv4 address.
	r.ip, _ = netip.ParseAddr(r.host)
	return r, nil
}

// hostProblem says why host (without a trailing dot) is not a DNS name or,
// unless it is a wildcard's suffix, an IPv4 address; "" if it is one.
func hostProblem(host string, wildcard bool) string {
	// No top-level domain is numeric, so a numeric last label means an IP
	// address. Requiring that it then be a canonical IPv4 address keeps
	// forms like "1.2.3" or "010.0.0.1" away from resolvers that would read
	// them as some other address.
	if last := host[strings.LastIndexByte(host, '.')+1:]; last != "" && strings.Trim(last, "0123456789") == "" {
		if wildcard {
			return "a wildcard needs a DNS name, not an IP address"
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is4() {
			return "not a valid IPv4 address"
		}
		return ""
	}
	if len(host) > 253 {
		return "host name is longer than 253 characters"
	}
	for label := range strings.SplitSeq(host, ".") {
		if !validLabel(label) {
			return "not a valid host name (labels are 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen)"
		}
	}
	return ""
}

func validLabel(label string) bool {
	if len(label) < 1 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, c := range []byte(label) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// canonicalHost returns host as the allowlist compares it: lower case,
// without a trailing dot. ok is false if host is not a DNS name or IPv4
// address, so that nothing else (IPv6, stray characters) can match.
func canonicalHost(host string) (canonical string, ok bool) {
	host = strings.TrimSuffix(host, ".")
	if hostProblem(host, false) != "" {
		return "", false
	}
	return strings.ToLower(host), true
}

// Allowlist decides which host and port may be reached. The zero value and
// nil allow nothing.
type Allowlist struct {
	rules []rule
}

// NewAllowlist parses every entry with ParsePattern and returns the first
// error, which names the entry.
func NewAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, e := range entries {
		r, err := parse(e)
		if err != nil {
			return nil, err
		}
		a.rules = append(a.rules, r)
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

// match returns the first rule that allows host:port, taking host as Allows
// does. Which rule it is matters to the proxy: only one that is an IPv4
// literal lets a connection go to an internal address.
func (a *Allowlist) match(host string, port int) (rule, bool) {
	h, ok := canonicalHost(host)
	if a == nil || !ok {
		return rule{}, false
	}
	for _, r := range a.rules {
		if r.port == 0 && port != 80 && port != 443 || r.port != 0 && port != r.port {
			continue
		}
		if r.wildcard && strings.HasSuffix(h, "."+r.host) || !r.wildcard && h == r.host {
			return r, true
		}
	}
	return rule{}, false
}

// patterns returns the normalized entries.
func (a *Allowlist) patterns() []string {
	var s []string
	for _, r := range a.rules {
		s = append(s, r.String())
	}
	return s
}
