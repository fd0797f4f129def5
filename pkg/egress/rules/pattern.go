package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// Pattern is an allowlist entry, parsed.
type Pattern struct {
	Host     string // lower case, no trailing dot; for a wildcard, the suffix after "*."
	Wildcard bool
	Port     int        // 0 means 80 and 443
	IP       netip.Addr // Host as an address if it is an IPv4 literal, else the zero Addr
}

// String returns the entry normalized: lower case, no trailing dot on the
// host. It parses back to p.
func (p Pattern) String() string {
	s := p.Host
	if p.Wildcard {
		s = "*." + s
	}
	if p.Port != 0 {
		s += ":" + strconv.Itoa(p.Port)
	}
	return s
}

// ParsePattern checks one allowlist entry and parses it.
//
// An entry is HOST or HOST:PORT. HOST is a DNS name, an IPv4 address, or
// "*." and a DNS name, which matches every name strictly below that suffix
// but not the suffix itself. PORT is 1 to 65535; without it the entry allows
// ports 80 and 443. Errors name the entry and say what is wrong with it.
func ParsePattern(entry string) (Pattern, error) {
	fail := func(reason string) (Pattern, error) {
		return Pattern{}, fmt.Errorf("%q%s", entry, reason)
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

	var p Pattern
	host, port, hasPort := strings.Cut(entry, ":")
	if hasPort {
		n, err := strconv.Atoi(port)
		if strings.Trim(port, "0123456789") != "" || err != nil || n < 1 || n > 65535 {
			return fail(": port must be 1 to 65535")
		}
		p.Port = n
	}
	host = strings.TrimSuffix(host, ".")
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.Wildcard = true
		host = rest
	}
	switch {
	case strings.Contains(host, "*") || p.Wildcard && host == "":
		return fail(` is not a host name or "*.suffix" pattern`)
	case host == "":
		return fail(": missing host name")
	}
	if problem := hostProblem(host, p.Wildcard); problem != "" {
		return fail(": " + problem)
	}
	p.Host = strings.ToLower(host)
	// hostProblem has let host through, so it is a DNS name, on which
	// ParseAddr fails, or an IPv4 address.
	p.IP, _ = netip.ParseAddr(p.Host)
	return p, nil
}

// CanonicalHost returns host as patterns are compared with it: lower case,
// without a trailing dot. ok is false if host is not a DNS name or IPv4
// address, so that nothing else (IPv6, stray characters) can match.
func CanonicalHost(host string) (canonical string, ok bool) {
	host = strings.TrimSuffix(host, ".")
	if hostProblem(host, false) != "" {
		return "", false
	}
	return strings.ToLower(host), true
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
