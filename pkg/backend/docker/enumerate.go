package docker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// Enumerate pings the Engine, which is also the usability check, then
// lists the agents with one container-list request: the labels carry
// everything a line needs, so no container is inspected. With q.All the
// request lists every container of every bottle, sidecars too, so that
// each agent's Handle holds all its containers and networks; without, the
// running containers only (of which only agents make lines). Each agent's
// published ports are its forwarder's port bindings, from the same answer.
func (b *Backend) Enumerate(ctx context.Context, q backend.Query) ([]agent.Agent, error) {
	c, err := b.ping(ctx)
	if err != nil {
		return nil, err
	}
	// Without q.All, the running containers of every bottle: the agents,
	// and beside them their forwarders, whose port bindings the same
	// answer holds.
	filter := labelFilter(q.Labels, labels.Slug)
	res, err := c.ContainerList(ctx, client.ContainerListOptions{All: q.All, Filters: filter})
	if err != nil {
		return nil, err
	}
	return b.agents(res.Items), nil
}

// handle is what Stop, Exec, Join and Logs need of an agent, as one
// listing saw it.
type handle struct {
	container  string            // the agent's
	containers []string          // every container of its bottle, the agent's among them
	networks   []string          // the bottle's own networks that those are on
	sidecars   map[string]string // each sidecar's container, by its service name
	volumes    []string          // the bottle's own volumes: its bottle-tether
}

// handleOf returns the Engine client and the handle of an agent that a
// listing of this backend found; backend.ErrNotFound for any other.
func (b *Backend) handleOf(a agent.Agent) (*client.Client, handle, error) {
	h, ok := a.Handle.(handle)
	if !ok {
		return nil, handle{}, backend.ErrNotFound
	}
	c, err := b.client()
	return c, h, err
}

// agents makes an agent of each agent container, and gives each the
// containers and networks of its bottle: those carrying its slug.
func (b *Backend) agents(items []container.Summary) []agent.Agent {
	type bottle struct {
		containers, networks, volumes []string
		sidecars                      map[string]string
		ports                         []agent.Port
	}
	bottles := map[string]*bottle{}
	for _, ctr := range items {
		slug := ctr.Labels[labels.Slug]
		bt := bottles[slug]
		if bt == nil {
			bt = &bottle{}
			bottles[slug] = bt
		}
		bt.containers = append(bt.containers, ctr.ID)
		if ctr.Labels[labels.Role] == labels.RoleForwarder {
			bt.ports = portsOf(ctr.Ports)
		}
		if name := ctr.Labels[labels.Sidecar]; name != "" && ctr.Labels[labels.Role] == labels.RoleSidecar {
			if bt.sidecars == nil {
				bt.sidecars = map[string]string{}
			}
			bt.sidecars[name] = ctr.ID
		}
		for _, m := range ctr.Mounts {
			if m.Type == mount.TypeVolume && isVolumeOf(slug, m.Name) && !slices.Contains(bt.volumes, m.Name) {
				bt.volumes = append(bt.volumes, m.Name)
			}
		}
		if ctr.NetworkSettings == nil {
			continue
		}
		for name, ep := range ctr.NetworkSettings.Networks {
			if ep != nil && isNetworkOf(slug, name) && !slices.Contains(bt.networks, ep.NetworkID) {
				bt.networks = append(bt.networks, ep.NetworkID)
			}
		}
	}
	var agents []agent.Agent
	for _, ctr := range items {
		if ctr.Labels[labels.Role] != labels.RoleAgent {
			continue
		}
		a, _ := labels.Decode(ctr.Labels)
		bt := bottles[a.Slug]
		a.Backend = b.Name()
		a.StartedAt = time.Unix(ctr.Created, 0).UTC()
		a.State = string(ctr.State)
		a.Exit = exitStatus(ctr)
		a.Ports = bt.ports
		a.Handle = handle{container: ctr.ID, containers: bt.containers, networks: bt.networks, sidecars: bt.sidecars, volumes: bt.volumes}
		agents = append(agents, a)
	}
	return agents
}

// exitStatus reads the exit status of an exited container from the words
// the listing describes it with, "Exited (137) 5 minutes ago", so that no
// container is inspected for it.
func exitStatus(ctr container.Summary) *int {
	var code int
	if ctr.State != container.StateExited {
		return nil
	}
	if _, err := fmt.Sscanf(ctr.Status, "Exited (%d)", &code); err != nil {
		return nil
	}
	return &code
}
