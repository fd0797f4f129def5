package egress

import (
	"net"
	"net/netip"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// refusedRanges are the addresses an allowed name never leads to, with what
// each is, for log lines: the proxy's host and its neighbours (loopback,
// private, link-local, carrier-grade NAT and unique local networks; a
// cloud's metadata service is link-local), and addresses that are no one
// host's (unspecified, multicast, broadcast and reserved). IPv4-mapped IPv6
// addresses stand for IPv4 ones and have no other use on the wire.
var refusedRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "an IPv4-mapped address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// guard decides which addresses the proxy may connect to.
type guard struct {
	own  []netip.Prefix // the subnets of the proxy's network interfaces
	deny []netip.Prefix // Proxy.Deny
}

// refusal is the error of a connection attempt the guard stopped. Its text
// is the note of the request's log line.
type refusal struct {
	ip      netip.Addr // the address the attempt was to
	carried netip.Addr // the address found refused: ip, or the IPv4 one ip carries
	what    string     // what carried is, as "a loopback address"
	literal bool       // whether the request named ip itself
}

func (e *refusal) Error() string {
	ip := e.ip.String()
	if e.carried != e.ip {
		ip += " (" + e.carried.String() + ")"
	}
	if e.literal {
		return ip + " is " + e.what
	}
	return "resolves to " + ip + ", " + e.what
}

// check returns why a connection that pattern allowed may not go to ip, or
// nil if it may.
//
// An entry naming a host leads only to addresses outside refusedRanges, the
// proxy's own networks and Proxy.Deny, whatever the host resolves to. An
// entry that is an IPv4 address leads to that address, wherever it is,
// unless Proxy.Deny has it or it is in 0.0.0.0/8, through which a
// connection would reach the proxy's own host.
func (g *guard) check(pattern rules.Pattern, ip netip.Addr) *refusal {
	ip = ip.WithZone("") // a zoned address is in no prefix
	refuse := func(carried netip.Addr, what string) *refusal {
		return &refusal{ip: ip, carried: carried, what: what, literal: pattern.IP.IsValid()}
	}
	forms := carriedForms(ip)
	for _, a := range forms {
		for _, n := range g.deny {
			if n.Contains(a) {
				return refuse(a, "in "+n.String()+", which this proxy denies")
			}
		}
	}
	if pattern.IP.IsValid() && pattern.IP == ip.Unmap() && !thisNetwork.Contains(pattern.IP) {
		return nil
	}
	for _, a := range forms {
		for _, rr := range refusedRanges {
			if rr.prefix.Contains(a) {
				return refuse(a, rr.what)
			}
		}
		for _, n := range g.own {
			if n.Contains(a) {
				return refuse(a, "an address of the proxy's own network "+n.String())
			}
		}
	}
	return nil
}

// carriedForms returns the IPv4 address that ip carries, if it is an
// IPv6 address of a kind that does (IPv4-mapped, NAT64 64:ff9b::/96 or 6to4
// 2002::/16), then ip: a connection to such an address may end at the IPv4
// one, so that is checked too, first, for the clearer log line.
func carriedForms(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	switch {
	case ip.Is4In6() || nat64.Contains(ip):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[12:16])), ip}
	case sixToFour.Contains(ip):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[2:6])), ip}
	}
	return []netip.Addr{ip}
}

// ownNetworks returns the subnets of addrs, the addresses of the proxy's
// network interfaces as net.InterfaceAddrs gives them. In a bottle these are
// its internal network and the outbound one, where the host's bridge
// address is.
func ownNetworks(addrs []net.Addr) []netip.Prefix {
	var own []netip.Prefix
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if !ok || bits == 0 {
			continue
		}
		// An IPv4 address may come as 16 bytes, and its mask too.
		ip = ip.Unmap()
		if ip.Is4() && bits == 8*net.IPv6len {
			ones -= 8*net.IPv6len - 8*net.IPv4len
		}
		if p := netip.PrefixFrom(ip, ones); p.IsValid() {
			own = append(own, p.Masked())
		}
	}
	return own
}
