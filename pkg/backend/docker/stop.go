package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Stop removes the containers, networks and volumes of the agent's bottle,
// as the listing that found it saw them: the agent, its sidecars, its
// networks and its volume of bottle-tether, also when some of them are
// already gone.
func (b *Backend) Stop(ctx context.Context, a agent.Agent) error {
	c, h, err := b.handleOf(a)
	if err != nil {
		return err
	}
	return remove(ctx, c, h.containers, h.networks, h.volumes)
}

// remove removes the containers, all at once, then the networks they were
// on and the volumes they had.
func remove(ctx context.Context, c *client.Client, containers, networks, volumes []string) error {
	errs := make([]error, len(containers))
	each(len(containers), func(i int) error {
		errs[i] = removeContainer(ctx, c, containers[i])
		return nil
	})
	for _, id := range networks {
		errs = append(errs, removeNetwork(ctx, c, id))
	}
	for _, name := range volumes {
		errs = append(errs, removeVolume(ctx, c, name))
	}
	return errors.Join(errs...)
}

func removeVolume(ctx context.Context, c *client.Client, name string) error {
	_, err := c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return nil
}

func removeContainer(ctx context.Context, c *client.Client, id string) error {
	_, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %.12s: %w", id, err)
	}
	return nil
}

func removeNetwork(ctx context.Context, c *client.Client, id string) error {
	_, err := c.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing network %.12s: %w", id, err)
	}
	return nil
}
