package smolvmfake

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// What `machine create` makes of the network options, with smolvm's own
// words: the launch plan's table of what the guest can reach, and its
// refusals.

// networkValues checks the values of the network options as smolvm's value
// parsers do (a usage error, exit status 2).
func (c *call) networkValues() bool {
	bad := func(v, o, why string) bool {
		fmt.Fprintf(c.stderr, "error: invalid value '%s' for '%s': %s\n", v, o, why)
		return false
	}
	for _, p := range c.flags["port"] {
		if _, err := parsePort(p); err != nil {
			return bad(p, "--port <HOST:GUEST>", err.Error())
		}
	}
	if b := c.flag("net-backend"); c.has("net-backend") && b != "tsi" && b != "virtio-net" {
		return bad(b, "--net-backend <NET_BACKEND>", "[possible values: tsi, virtio-net]")
	}
	if ip, err := netip.ParseAddr(c.flag("dns")); c.has("dns") && (err != nil || !ip.Is4()) {
		return bad(c.flag("dns"), "--dns <IP>", "invalid IPv4 address syntax")
	}
	return true
}

// parsePort reads -p HOST:GUEST or -p PORT and returns the host port.
func parsePort(spec string) (uint64, error) {
	host, guest, pair := strings.Cut(spec, ":")
	if !pair {
		guest = host
	}
	h, err := strconv.ParseUint(host, 10, 16)
	if err != nil || h == 0 {
		return 0, fmt.Errorf("invalid host port: %s", host)
	}
	if g, err := strconv.ParseUint(guest, 10, 16); err != nil || g == 0 {
		return 0, fmt.Errorf("invalid guest port: %s", guest)
	}
	return h, nil
}

// reach works out what the guest will reach, as smolvm's launch plan does,
// and whether ls will say "network": true (smolvm's stored flag, which
// published ports alone do not set). Every --allow-host is resolved now, and
// one that does not resolve fails the create.
func (c *call) reach() (reach string, stored bool, err error) {
	var policy []string
	if hosts := c.flags["allow-host"]; len(hosts) > 0 {
		for _, h := range hosts {
			if err := resolve(h); err != nil {
				return "", false, fmt.Errorf("config operation failed: --allow-host: %w", err)
			}
		}
		policy = append(append(policy, "allow-host"), hosts...)
	}
	cidrs := slices.Clone(c.flags["allow-cidr"])
	for _, cidr := range cidrs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, err := netip.ParseAddr(cidr); err != nil {
				return "", false, fmt.Errorf("config operation failed: --allow-cidr: invalid CIDR '%s'", cidr)
			}
		}
	}
	if c.has("outbound-localhost-only") {
		cidrs = append(cidrs, "127.0.0.0/8", "::1/128")
	}
	if len(cidrs) > 0 {
		policy = append(append(policy, "allow-cidr"), cidrs...)
	}
	stored = c.has("net") || c.has("dns") || c.has("network") || len(policy) > 0
	switch {
	case len(policy) > 0:
		return strings.Join(policy, " "), stored, nil
	case c.has("port") || c.has("network") || stored && c.flag("net-backend") == "virtio-net":
		return "virtio-net-open", stored, nil
	case stored:
		return "tsi-open", stored, nil
	}
	return "none", stored, nil
}

// resolve stands in for the host's resolver, which smolvm asks at create
// for every --allow-host. An IP address needs no resolving; a name with a
// port is refused; every other well-formed host name resolves, except the
// names under "invalid", which RFC 6761 reserves to never resolve. "*.x" is
// not a host name, so it does not resolve.
func resolve(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("invalid hostname '%s': port suffixes are not supported. Use the hostname only (all ports are allowed to resolved IPs).", host)
	}
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(host), "."), ".")
	wellFormed := !slices.ContainsFunc(labels, func(l string) bool {
		return l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != ""
	})
	if !wellFormed || labels[len(labels)-1] == "invalid" {
		return fmt.Errorf("failed to resolve '%s': failed to lookup address information: Name or service not known", host)
	}
	return nil
}

// checkNetwork refuses what a network backend cannot do: TSI neither
// publishes ports nor enforces an egress policy (a policy on TSI would be
// silently open), virtio-net needs networking to be on at all. A host port
// is published once.
func (c *call) checkNetwork(reach string) error {
	policy := strings.HasPrefix(reach, "allow-")
	switch backend := c.flag("net-backend"); {
	case backend == "tsi" && c.has("port"):
		return errors.New("config operation failed: ports: published ports require the virtio-net backend (TSI is outbound-only); remove --net-backend tsi or set it to virtio-net")
	case backend == "tsi" && c.has("network"):
		return errors.New("config operation failed: network: --network requires the virtio-net backend; remove --net-backend tsi or set it to virtio-net")
	case backend == "tsi" && policy:
		return errors.New("config operation failed: egress: egress policy (--allow-cidr/--allow-host/--outbound-localhost-only) requires the virtio-net backend; TSI does not enforce it. Remove --net-backend tsi or set it to virtio-net")
	case backend == "virtio-net" && reach == "none":
		return errors.New("config operation failed: --net-backend: --net-backend virtio-net requires --net")
	}
	seen := map[uint64]bool{}
	for _, p := range c.flags["port"] {
		host, _ := parsePort(p)
		if seen[host] {
			return fmt.Errorf("config operation failed: validate ports: host port %d is mapped more than once", host)
		}
		seen[host] = true
	}
	return nil
}
