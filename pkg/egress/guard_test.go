package egress

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

func TestGuardCheck(t *testing.T) {
	g := &guard{
		own:  []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:db8:1::/64")},
		deny: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("10.9.0.0/16")},
	}
	entry := func(s string) rules.Pattern {
		p, err := rules.ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	name := entry("example.test")
	cases := []struct {
		r    rules.Pattern
		ip   string
		want string // "" if allowed
	}{
		{name, "93.184.216.34", ""},
		{name, "198.51.100.7", ""},
		{name, "2606:4700::1111", ""},
		{name, "0.0.0.0", "resolves to 0.0.0.0, an unspecified address"},
		{name, "0.1.2.3", "resolves to 0.1.2.3, an unspecified address"},
		{name, "10.1.2.3", "resolves to 10.1.2.3, a private address"},
		{name, "100.64.0.1", "resolves to 100.64.0.1, a carrier-grade NAT address"},
		{name, "100.127.255.255", "resolves to 100.127.255.255, a carrier-grade NAT address"},
		{name, "100.128.0.1", ""},
		{name, "127.0.0.1", "resolves to 127.0.0.1, a loopback address"},
		{name, "127.255.255.254", "resolves to 127.255.255.254, a loopback address"},
		{name, "169.254.169.254", "resolves to 169.254.169.254, a link-local address"},
		{name, "172.15.255.255", ""},
		{name, "172.16.0.1", "resolves to 172.16.0.1, a private address"},
		{name, "172.31.255.255", "resolves to 172.31.255.255, a private address"},
		{name, "172.32.0.1", ""},
		{name, "192.168.0.1", "resolves to 192.168.0.1, a private address"},
		{name, "224.0.0.1", "resolves to 224.0.0.1, a multicast address"},
		{name, "239.255.255.250", "resolves to 239.255.255.250, a multicast address"},
		{name, "240.0.0.1", "resolves to 240.0.0.1, a reserved or broadcast address"},
		{name, "255.255.255.255", "resolves to 255.255.255.255, a reserved or broadcast address"},
		{name, "::", "resolves to ::, an unspecified address"},
		{name, "::1", "resolves to ::1, a loopback address"},
		{name, "fc00::1", "resolves to fc00::1, a unique local address"},
		{name, "fdff::1", "resolves to fdff::1, a unique local address"},
		{name, "fe80::1", "resolves to fe80::1, a link-local address"},
		{name, "fe80::1%eth0", "resolves to fe80::1, a link-local address"},
		{name, "febf::1", "resolves to febf::1, a link-local address"},
		{name, "ff02::1", "resolves to ff02::1, a multicast address"},
		// IPv6 addresses that carry IPv4 ones.
		{name, "::ffff:127.0.0.1", "resolves to ::ffff:127.0.0.1 (127.0.0.1), a loopback address"},
		{name, "::ffff:93.184.216.34", "resolves to ::ffff:93.184.216.34, an IPv4-mapped address"},
		{name, "64:ff9b::10.0.0.1", "resolves to 64:ff9b::a00:1 (10.0.0.1), a private address"},
		{name, "64:ff9b::93.184.216.34", ""},
		{name, "2002:a9fe:a9fe::1", "resolves to 2002:a9fe:a9fe::1 (169.254.169.254), a link-local address"},
		{name, "2002:5db8:d822::1", ""},
		// The proxy's own networks and Deny.
		{name, "198.18.0.9", "resolves to 198.18.0.9, an address of the proxy's own network 198.18.0.0/24"},
		{name, "198.18.1.9", ""},
		{name, "2001:db8:1::5", "resolves to 2001:db8:1::5, an address of the proxy's own network 2001:db8:1::/64"},
		{name, "203.0.113.5", "resolves to 203.0.113.5, in 203.0.113.0/24, which this proxy denies"},
		{name, "::ffff:203.0.113.5", "resolves to ::ffff:203.0.113.5 (203.0.113.5), in 203.0.113.0/24, which this proxy denies"},
		{entry("*.example.test"), "10.1.2.3", "resolves to 10.1.2.3, a private address"},

		// An entry that is an address leads there, wherever it is...
		{entry("10.1.2.3"), "10.1.2.3", ""},
		{entry("10.1.2.3:8080"), "10.1.2.3", ""},
		{entry("127.0.0.1"), "127.0.0.1", ""},
		{entry("169.254.169.254"), "169.254.169.254", ""},
		{entry("198.18.0.9"), "198.18.0.9", ""},
		{entry("93.184.216.34"), "93.184.216.34", ""},
		// ... and only there,
		{entry("10.1.2.3"), "10.1.2.4", "10.1.2.4 is a private address"},
		// not to this host by way of 0.0.0.0/8, nor where Deny says no.
		{entry("0.0.0.0"), "0.0.0.0", "0.0.0.0 is an unspecified address"},
		{entry("10.9.0.1"), "10.9.0.1", "10.9.0.1 is in 10.9.0.0/16, which this proxy denies"},
	}
	for _, c := range cases {
		got := ""
		if refused := g.check(c.r, netip.MustParseAddr(c.ip)); refused != nil {
			got = refused.Error()
		}
		if got != c.want {
			t.Errorf("check(%s, %s) = %q, want %q", c.r, c.ip, got, c.want)
		}
	}
}

func TestOwnNetworks(t *testing.T) {
	got := ownNetworks([]net.Addr{
		// As net.InterfaceAddrs gives IPv4 addresses on Linux: 16 bytes, a
		// 4-byte mask.
		&net.IPNet{IP: net.IPv4(172, 20, 0, 3), Mask: net.CIDRMask(16, 32)},
		&net.IPNet{IP: net.IPv4(10, 1, 2, 3).To4(), Mask: net.CIDRMask(24, 32)},
		&net.IPNet{IP: net.IPv4(192, 0, 2, 9), Mask: net.CIDRMask(120, 128)},
		&net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(64, 128)},
		&net.IPNet{IP: net.IPv4(1, 2, 3, 4), Mask: net.IPMask{255, 0, 255, 0}},
		&net.IPAddr{IP: net.IPv4(1, 2, 3, 4)},
	})
	want := []netip.Prefix{
		netip.MustParsePrefix("172.20.0.0/16"),
		netip.MustParsePrefix("10.1.2.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::/64"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
