package docker

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// summary is a container as the Engine lists it, on the named networks
// (name, then network ID).
func summary(id string, labels map[string]string, networks ...string) container.Summary {
	s := container.Summary{ID: id, Labels: labels, State: "running", Created: 1795843200,
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}}
	for i := 0; i+1 < len(networks); i += 2 {
		s.NetworkSettings.Networks[networks[i]] = &network.EndpointSettings{NetworkID: networks[i+1]}
	}
	return s
}

// TestAgents: one listing of every bottle container gives each agent its
// bottle's containers and networks, and nothing of the user's.
func TestAgents(t *testing.T) {
	t.Parallel()
	common := func(slug string, kv ...string) map[string]string {
		l := map[string]string{"dev.bottle.slug": slug, "dev.bottle.agent": "reviewer", "dev.bottle.services": "egress,web"}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	items := []container.Summary{
		summary("sidecar-web", common("rv-1", "dev.bottle.role", "sidecar", "dev.bottle.sidecar", "web"), "rv-1.0a1b2c", "net-in"),
		summary("agent-rv", common("rv-1", "dev.bottle.role", "agent", "dev.bottle.attach", `["/bin/sh","-l"]`),
			"rv-1.0a1b2c", "net-in", "rv-1", "net-users-own"),
		// The egress sidecar is on the way out too, and on a network a
		// test (or the user) connected it to.
		summary("sidecar-egress", common("rv-1", "dev.bottle.role", "sidecar", "dev.bottle.sidecar", "egress"),
			"rv-1.0a1b2c", "net-in", "rv-1.0a1b2c.egress", "net-out", "internet-x", "net-internet"),
		summary("agent-sh", map[string]string{"dev.bottle.slug": "sh-2", "dev.bottle.agent": "shell", "dev.bottle.services": "",
			"dev.bottle.role": "agent", "dev.bottle.attach": `["/bin/sh"]`}, "sh-2.ffffff", "net-sh"),
	}
	got := New(Config{}).agents(items)
	want := []agent.Agent{
		{Backend: "docker", Slug: "rv-1", Name: "reviewer", Services: []string{"egress", "web"},
			StartedAt: time.Unix(1795843200, 0).UTC(), State: "running",
			Handle: handle{container: "agent-rv", containers: []string{"sidecar-web", "agent-rv", "sidecar-egress"}, networks: []string{"net-in", "net-out"},
				sidecars: map[string]string{"web": "sidecar-web", "egress": "sidecar-egress"}}},
		{Backend: "docker", Slug: "sh-2", Name: "shell",
			StartedAt: time.Unix(1795843200, 0).UTC(), State: "running",
			Handle: handle{container: "agent-sh", containers: []string{"agent-sh"}, networks: []string{"net-sh"}}},
	}
	for _, a := range got {
		slices.Sort(a.Handle.(handle).networks)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agents =\n%+v\nwant\n%+v", got, want)
	}
}

func TestIsNetworkOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"rv-1.0a1b2c":               true,
		"rv-1.0a1b2c.egress":        true,
		"rv-1":                      false, // a network of the user's named like the slug
		"rv-1.0a1b2c.other":         false,
		"rv-1.0A1B2C":               false,
		"rv-1.0a1b2":                false,
		"rv-10.0a1b2c":              false,
		"rv-1.0a1b2c.egress.egress": false,
		"bench-x-replicas":          false,
	} {
		if got := isNetworkOf("rv-1", name); got != want {
			t.Errorf("isNetworkOf(rv-1, %q) = %v, want %v", name, got, want)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DOCKER_HOST": "tcp://engine:2376", "DOCKER_API_VERSION": "1.41", "DOCKER_CERT_PATH": "/certs",
		"DOCKER_TLS_VERIFY": "1", "DOCKER_CONTEXT": "remote", "HOME": "/home/me", "BOTTLE_DOCKER_POOL": "10.213.0.0/16",
		"BOTTLE_TETHER_IMAGE": "tether:test",
	}
	want := Config{Host: "tcp://engine:2376", APIVersion: "1.41", CertPath: "/certs", TLSVerify: true,
		Context: "remote", ConfigDir: "/home/me/.docker", Pool: "10.213.0.0/16", TetherImage: "tether:test"}
	if got := ConfigFromEnv(func(k string) string { return env[k] }); got != want {
		t.Errorf("ConfigFromEnv = %+v, want %+v", got, want)
	}
	env["DOCKER_CONFIG"], env["DOCKER_TLS_VERIFY"] = "/etc/docker-cli", ""
	if got := ConfigFromEnv(func(k string) string { return env[k] }); got.ConfigDir != "/etc/docker-cli" || got.TLSVerify {
		t.Errorf("ConfigFromEnv with DOCKER_CONFIG and an empty DOCKER_TLS_VERIFY = %+v", got)
	}
	if got := ConfigFromEnv(func(string) string { return "" }); got != (Config{}) {
		t.Errorf("ConfigFromEnv of nothing = %+v, want the zero Config", got)
	}
}
