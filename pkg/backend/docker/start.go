package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// cleanupTimeout bounds the removal of a half-made agent, which runs even
// when the start itself was cancelled.
const cleanupTimeout = 30 * time.Second

// Start creates the bottle's network, the agent container (whose name claims
// the slug), one container per sidecar, then starts the sidecars and the
// agent. Whatever fails, what this call created is removed again.
func (b *Backend) Start(ctx context.Context, slug string, def *agentdef.Definition, labels map[string]string) (started agent.Agent, err error) {
	c, err := b.client()
	if err != nil {
		return agent.Agent{}, err
	}
	services := def.SidecarNames()
	common := objectLabels(slug, def.Name, services, labels)
	made := &created{c: c}
	defer func() {
		if err != nil {
			err = errors.Join(err, made.remove(context.WithoutCancel(ctx)))
		}
	}()

	net, err := c.NetworkCreate(ctx, slug, client.NetworkCreateOptions{Driver: "bridge", Labels: common})
	if err != nil {
		return agent.Agent{}, fmt.Errorf("creating network %s: %w", slug, err)
	}
	made.network = net.ID

	attach, err := json.Marshal(def.Attach)
	if err != nil {
		return agent.Agent{}, err
	}
	agentID, err := made.container(ctx, "agent", slug, net.ID, nil, &container.Config{
		Hostname:   slug,
		Image:      def.Image,
		Cmd:        def.Command,
		Env:        envList(def.Env),
		WorkingDir: def.Workdir,
		Labels:     with(common, labelRole, roleAgent, labelAttach, string(attach)),
	}, workspaceMounts(def))
	if err != nil {
		return agent.Agent{}, err
	}

	sidecarIDs := make([]string, len(def.Sidecars))
	err = each(len(def.Sidecars), func(i int) (err error) {
		s := def.Sidecars[i]
		sidecarIDs[i], err = made.container(ctx, "sidecar "+s.Name, slug+"."+s.Name, net.ID, []string{s.Name}, &container.Config{
			Image:  s.Image,
			Cmd:    s.Command,
			Env:    envList(s.Env),
			Labels: with(common, labelRole, roleSidecar, labelSidecar, s.Name),
		}, nil)
		return err
	})
	if err != nil {
		return agent.Agent{}, err
	}
	// Sidecars first, so that the agent finds its services up when it starts.
	err = each(len(sidecarIDs), func(i int) error {
		return startContainer(ctx, c, "sidecar "+def.Sidecars[i].Name, sidecarIDs[i])
	})
	if err != nil {
		return agent.Agent{}, err
	}
	if err := startContainer(ctx, c, "agent", agentID); err != nil {
		return agent.Agent{}, err
	}
	return agent.Agent{
		Backend:   b.Name(),
		Slug:      slug,
		Name:      def.Name,
		Services:  services,
		StartedAt: time.Now().UTC().Truncate(time.Second),
		State:     "running",
	}, nil
}

// created remembers what one Start made, so that a failed start removes
// exactly that and never another agent's objects of the same name.
type created struct {
	c          *client.Client
	mu         sync.Mutex
	containers []string
	network    string
}

func (m *created) container(ctx context.Context, what, name, networkID string, aliases []string, cfg *container.Config, mounts []mount.Mount) (string, error) {
	res, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(networkID), Mounts: mounts},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			networkID: {Aliases: aliases},
		}},
	})
	switch {
	case cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("%s: image %q not found on the Docker Engine (bottle never pulls: build or load it first)", what, cfg.Image)
	case cerrdefs.IsConflict(err):
		return "", fmt.Errorf("%s: the name %s is already in use on the Docker Engine", what, name)
	case err != nil:
		return "", fmt.Errorf("%s: creating container: %w", what, err)
	}
	m.mu.Lock()
	m.containers = append(m.containers, res.ID)
	m.mu.Unlock()
	return res.ID, nil
}

func (m *created) remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	errs := make([]error, len(m.containers)+1)
	each(len(m.containers), func(i int) error {
		errs[i] = removeContainer(ctx, m.c, m.containers[i])
		return nil
	})
	if m.network != "" {
		errs[len(m.containers)] = removeNetwork(ctx, m.c, m.network)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up after the failed start: %w", err)
	}
	return nil
}

func startContainer(ctx context.Context, c *client.Client, what, id string) error {
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("%s: starting container: %w", what, err)
	}
	return nil
}

func workspaceMounts(def *agentdef.Definition) []mount.Mount {
	if def.Workspace == "" {
		return nil
	}
	return []mount.Mount{{Type: mount.TypeBind, Source: def.Workspace, Target: def.Workdir}}
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

func with(labels map[string]string, kv ...string) map[string]string {
	out := maps.Clone(labels)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// each runs f for 0..n-1 at once and returns the first error in index order.
func each(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
