package docker

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// TestListingPorts: the one container list gives each agent the host
// addresses of its forwarder's bindings, one per port (IPv4 when the
// Engine shows an unspecified address twice), and no other bottle's.
func TestListingPorts(t *testing.T) {
	t.Parallel()
	l := func(slug, role string) map[string]string {
		return map[string]string{"dev.bottle.slug": slug, "dev.bottle.agent": "web", "dev.bottle.services": "", "dev.bottle.role": role}
	}
	fwd := summary("fwd-1", l("web-1", "forwarder"), "web-1.0a1b2c", "net-in", "web-1.0a1b2c.ports", "net-ports")
	fwd.Ports = []container.PortSummary{
		{IP: netip.MustParseAddr("::"), PrivatePort: 8080, PublicPort: 8080, Type: "tcp"},
		{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 8080, PublicPort: 8080, Type: "tcp"},
		{IP: netip.MustParseAddr("127.0.0.1"), PrivatePort: 3000, PublicPort: 49213, Type: "tcp"},
		{PrivatePort: 9999, Type: "tcp"}, // exposed, not bound
		{IP: netip.MustParseAddr("::1"), PrivatePort: 4000, PublicPort: 40000, Type: "tcp"},
	}
	other := summary("fwd-2", l("web-2", "forwarder"), "web-2.ffffff.ports", "net-ports-2")
	other.Ports = []container.PortSummary{{IP: netip.MustParseAddr("127.0.0.1"), PrivatePort: 3000, PublicPort: 49214, Type: "tcp"}}
	items := []container.Summary{
		summary("agent-1", l("web-1", "agent"), "web-1.0a1b2c", "net-in"),
		fwd,
		summary("agent-2", l("web-2", "agent"), "web-2.ffffff", "net-in-2"),
		other,
		summary("agent-3", l("web-3", "agent"), "web-3.aaaaaa", "net-in-3"),
	}
	got := New(Config{}).agents(items)
	want := map[string][]agent.Port{
		"web-1": {{Port: 3000, Host: "127.0.0.1:49213"}, {Port: 4000, Host: "[::1]:40000"}, {Port: 8080, Host: "0.0.0.0:8080"}},
		"web-2": {{Port: 3000, Host: "127.0.0.1:49214"}},
		"web-3": nil,
	}
	if len(got) != 3 {
		t.Fatalf("agents = %+v, want 3", got)
	}
	for _, a := range got {
		if !reflect.DeepEqual(a.Ports, want[a.Slug]) {
			t.Errorf("%s: Ports = %+v, want %+v", a.Slug, a.Ports, want[a.Slug])
		}
	}
	// The forwarder and its network are the bottle's, for Stop to remove.
	h := got[0].Handle.(handle)
	if !slices.Contains(h.containers, "fwd-1") || !slices.Contains(h.networks, "net-ports") {
		t.Errorf("handle of web-1 = %+v, want the forwarder and its network", h)
	}
}

func TestForwarderConfig(t *testing.T) {
	t.Parallel()
	ports := []agentdef.Publish{{IP: "127.0.0.1", Port: 3000}, {IP: "0.0.0.0", HostPort: 8080, Port: 80}}
	cfg, hc, err := forwarderConfig("web-1", "bottle-tether:latest", ports, map[string]string{"dev.bottle.role": "forwarder"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/.bottle/bottle-tether", "forward", "web-1", "3000", "80"}; !slices.Equal(cfg.Entrypoint, want) || cfg.Cmd != nil {
		t.Errorf("Entrypoint %q, Cmd %q; want %q", cfg.Entrypoint, cfg.Cmd, want)
	}
	if cfg.User != "65534:65534" || !hc.ReadonlyRootfs || !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) != 0 ||
		!slices.Contains(hc.SecurityOpt, "no-new-privileges") || *hc.PidsLimit != forwarderPids || hc.Memory != 128<<20 {
		t.Errorf("forwarder not confined: user %q, %+v", cfg.User, hc)
	}
	want := network.PortMap{
		network.MustParsePort("3000/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}},
		network.MustParsePort("80/tcp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}},
	}
	if !reflect.DeepEqual(hc.PortBindings, want) || len(cfg.ExposedPorts) != 2 {
		t.Errorf("PortBindings = %v, ExposedPorts %v; want %v", hc.PortBindings, cfg.ExposedPorts, want)
	}
}

func TestNetworksOfPorts(t *testing.T) {
	t.Parallel()
	if !isNetworkOf("web-1", "web-1.0a1b2c.ports") || isNetworkOf("web-1", "web-1.0a1b2c.ports.egress") || isNetworkOf("web-1", "web-1.ports") {
		t.Error("isNetworkOf does not know the forwarder's network by its name alone")
	}
	if isVolumeOf("web-1", "web-1.0a1b2c.ports.tether") {
		t.Error("isVolumeOf takes a volume named after the forwarder's network")
	}
}
