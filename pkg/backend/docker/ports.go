package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// The agent's published ports go through a forwarder of bottle's own, never
// through the agent's container, whose network stays internal: a container
// of the tether image running `bottle-tether forward SLUG PORT...`, on the
// bottle's internal network and on a network of its own that is not
// internal, with the Engine's port bindings. It relays each connection to
// the same port of the agent, by the agent's container name, and dials
// nothing else.
const (
	// portsSuffix ends the names of the forwarder's network, after the
	// bottle's network's, and of its container, after the slug and "._"
	// (no sidecar name can hold "_", so no sidecar's container takes it).
	portsSuffix = "ports"
	// forwarderCommand is the forwarder's program in the tether image.
	forwarderCommand = tetherDir + "/bottle-tether"
)

// The forwarder's bounds: a relay of bytes needs little.
var forwarderLimits = agentdef.Limits{Memory: 128 << 20, CPUs: 0.5}

const forwarderPids = 64

// forwarderName is the name of the container of slug's forwarder.
func forwarderName(slug string) string { return slug + "._" + portsSuffix }

// forwarder creates the forwarder of ports for the agent slug: its network
// (named after the bottle's, ".ports") and its container, made on that
// network and then connected to inside, so that the Engine binds the host
// ports on the network that leads out. It is not started.
func (m *created) forwarder(ctx context.Context, slug, netName, image, inside string, ports []agentdef.Publish, common map[string]string) (string, error) {
	outside, err := m.network(ctx, netName+"."+portsSuffix, false, nil, with(common, labels.Network, labels.NetworkPorts))
	if err != nil {
		return "", err
	}
	cfg, hc, err := forwarderConfig(slug, image, ports, with(common, labels.Role, labels.RoleForwarder))
	if err != nil {
		return "", err
	}
	id, err := m.container(ctx, "the port forwarder", forwarderName(slug), outside, nil, cfg, hc)
	if err != nil {
		return "", err
	}
	if _, err := m.c.NetworkConnect(ctx, inside, client.NetworkConnectOptions{Container: id}); err != nil {
		return "", fmt.Errorf("the port forwarder: connecting it to the bottle's network: %w", err)
	}
	return id, nil
}

// forwarderConfig is the forwarder's container: confined like the egress
// sidecar (nobody, a read-only root, no capabilities, bounded), running
// bottle-tether forward, with one binding per published port: the given
// host address (127.0.0.1 unless the user wrote another) and host port
// ("" for the Engine to pick one).
func forwarderConfig(slug, image string, ports []agentdef.Publish, marks map[string]string) (*container.Config, *container.HostConfig, error) {
	cmd := []string{forwarderCommand, "forward", slug}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range ports {
		port, ok := network.PortFrom(uint16(p.Port), network.TCP)
		ip, err := netip.ParseAddr(p.IP)
		if !ok || err != nil {
			return nil, nil, fmt.Errorf("port %s: not a port the Engine can publish", p)
		}
		hostPort := ""
		if p.HostPort != 0 {
			hostPort = strconv.Itoa(p.HostPort)
		}
		cmd = append(cmd, strconv.Itoa(p.Port))
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: ip, HostPort: hostPort})
	}
	cfg := &container.Config{
		Image:        image,
		Entrypoint:   cmd,
		User:         egressUser,
		ExposedPorts: exposed,
		Labels:       marks,
	}
	hc := confined(nil, forwarderPids, forwarderLimits)
	hc.ReadonlyRootfs = true
	hc.PortBindings = bindings
	return cfg, hc, nil
}

// startForwarder starts the forwarder; a host port that is taken is said
// so, in one line.
func startForwarder(ctx context.Context, c *client.Client, id string, ports []agentdef.Publish) error {
	_, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if err == nil {
		return nil
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if strings.Contains(msg, "already allocated") || strings.Contains(msg, "address already in use") {
		return fmt.Errorf("publishing %s: a host port is already taken (%s)", publishList(ports), msg)
	}
	return fmt.Errorf("the port forwarder: starting container: %s", msg)
}

func publishList(ports []agentdef.Publish) string {
	specs := make([]string, len(ports))
	for i, p := range ports {
		specs[i] = p.String()
	}
	return strings.Join(specs, ", ")
}

// forwarderPorts inspects the started forwarder for the host ports the
// Engine bound.
func forwarderPorts(ctx context.Context, c *client.Client, id string) ([]agent.Port, error) {
	info, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("the port forwarder: inspecting container: %w", err)
	}
	var summary []container.PortSummary
	if ns := info.Container.NetworkSettings; ns != nil {
		for port, bindings := range ns.Ports {
			for _, b := range bindings {
				n, err := strconv.ParseUint(b.HostPort, 10, 16)
				if err != nil {
					continue
				}
				summary = append(summary, container.PortSummary{IP: b.HostIP, PrivatePort: port.Num(), PublicPort: uint16(n), Type: string(port.Proto())})
			}
		}
	}
	return portsOf(summary), nil
}

// portsOf reads the agent's published ports from its forwarder's ports as
// the container list shows them: one per port of the agent, its IPv4
// binding when the Engine shows one on IPv4 and IPv6 (as it does for an
// unspecified address), in the order of the agent's ports.
func portsOf(list []container.PortSummary) []agent.Port {
	var ports []agent.Port
	for _, p := range list {
		if p.PublicPort == 0 || p.Type != "tcp" || !p.IP.IsValid() {
			continue
		}
		host := net.JoinHostPort(p.IP.Unmap().String(), strconv.Itoa(int(p.PublicPort)))
		i := slices.IndexFunc(ports, func(q agent.Port) bool { return q.Port == int(p.PrivatePort) })
		switch {
		case i < 0:
			ports = append(ports, agent.Port{Port: int(p.PrivatePort), Host: host})
		case p.IP.Unmap().Is4() && strings.HasPrefix(ports[i].Host, "["):
			ports[i].Host = host
		}
	}
	slices.SortFunc(ports, func(a, b agent.Port) int { return a.Port - b.Port })
	return ports
}
