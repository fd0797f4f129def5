package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// An internal network has no route out, but the host has an address on its
// bridge, the network's gateway, and answers there on every address it has:
// a service listening on all interfaces is open to the agent. These bridge
// options leave the host without an address on the agent's network.
const (
	// gateway_mode isolated (Engine 28.0, API 1.48) gives the bridge no
	// address at all, IPv6 link-local included.
	optGatewayModeIPv4 = "com.docker.network.bridge.gateway_mode_ipv4"
	optGatewayModeIPv6 = "com.docker.network.bridge.gateway_mode_ipv6"
	gatewayIsolated    = "isolated"
	// inhibit_ipv4 (Engine 20.10, API 1.41) keeps the Engine from giving
	// the bridge its IPv4 address; the containers' IPv6 is off anyway on a
	// network without IPv6.
	optInhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"
)

// The API versions from which the Engine honours each option. Older Engines
// take unknown bridge options without a word, so the version decides.
const (
	apiGatewayModeIsolated = "1.48"
	apiInhibitIPv4         = "1.41"
	// Engines 26.0.0 and 26.0.1 (API 1.45, shared with 26.0.2 and 26.1)
	// left IPv6 on in containers of networks without it (CVE-2024-32473).
	apiIPv6Regression = "1.45"
)

// hostIsolation returns the bridge options that keep the host off the
// agent's network on the Engine c speaks to, or why no bottle can be made
// safely there.
func hostIsolation(ctx context.Context, c *client.Client) (map[string]string, error) {
	v := c.ClientVersion()
	switch {
	case !versions.LessThan(v, apiGatewayModeIsolated):
		return map[string]string{optGatewayModeIPv4: gatewayIsolated, optGatewayModeIPv6: gatewayIsolated}, nil
	case v == apiIPv6Regression:
		sv, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			return nil, fmt.Errorf("asking the Engine its version: %w", err)
		}
		if sv.Version == "26.0.0" || sv.Version == "26.0.1" {
			return nil, fmt.Errorf("Docker Engine %s leaves IPv6 on in an agent's network, a way to the host (CVE-2024-32473): upgrade it to 26.0.2 or later", sv.Version)
		}
		fallthrough
	case !versions.LessThan(v, apiInhibitIPv4):
		return map[string]string{optInhibitIPv4: "true"}, nil
	}
	return nil, fmt.Errorf("the Docker Engine speaks API %s, which cannot keep an agent's network off the host's own addresses: upgrade it to 20.10 (API %s) or later", v, apiInhibitIPv4)
}

// hostAddresses returns the addresses of the host the Engine at daemonHost
// runs on, as prefixes of one address each, when that host is this one. The
// egress proxy sits on a network that leads to the host, and the host
// answers on all its addresses there, a public one too: the proxy must deny
// them, even to an allowlist entry that names one. Of a remote Engine's
// host bottle knows nothing; the proxy still refuses every private address.
func hostAddresses(daemonHost string) []string {
	u, err := url.Parse(daemonHost)
	if err != nil || !(u.Scheme == "unix" || u.Scheme == "tcp" && isLoopback(u.Hostname())) {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var deny []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			ip, _ := netip.AddrFromSlice(n.IP)
			deny = append(deny, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()).String())
		}
	}
	slices.Sort(deny)
	return slices.Compact(deny)
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

// checkWorkspace refuses a workspace that holds the Engine's data or its
// socket: an agent that can write there owns the Engine, and the host with it.
func checkWorkspace(ctx context.Context, c *client.Client, def *agentdef.Definition) error {
	if def.Workspace == "" {
		return nil
	}
	var engine []string
	if u, err := url.Parse(c.DaemonHost()); err == nil && u.Scheme == "unix" {
		engine = append(engine, filepath.Dir(u.Path))
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("asking the Engine where it keeps its data: %w", err)
	}
	if info.Info.DockerRootDir != "" {
		engine = append(engine, info.Info.DockerRootDir)
	}
	if err := agentdef.CheckWorkspace(def.Workspace, engine...); err != nil {
		return &agentdef.Error{File: def.File, Key: "workspace", Reason: err.Error() + " (the Docker Engine keeps its data or its socket there)"}
	}
	return nil
}
