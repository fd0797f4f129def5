package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Stop removes every container and network labelled with the slug: the
// agent, its sidecars and its network, also when some of them are already
// gone or were never finished.
func (b *Backend) Stop(ctx context.Context, slug string, labels map[string]string) error {
	c, err := b.client()
	if err != nil {
		return err
	}
	filter := labelFilter(labels, labelSlug+"="+slug)
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return err
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return err
	}
	if len(ctrs.Items) == 0 && len(nets.Items) == 0 {
		return agent.ErrNotFound
	}
	ids := make([]string, len(ctrs.Items))
	for i, ctr := range ctrs.Items {
		ids[i] = ctr.ID
	}
	netIDs := make([]string, len(nets.Items))
	for i, n := range nets.Items {
		netIDs[i] = n.ID
	}
	return remove(ctx, c, ids, netIDs)
}

// remove removes the containers, all at once, then the networks they were on.
func remove(ctx context.Context, c *client.Client, containers, networks []string) error {
	errs := make([]error, len(containers))
	each(len(containers), func(i int) error {
		errs[i] = removeContainer(ctx, c, containers[i])
		return nil
	})
	for _, id := range networks {
		errs = append(errs, removeNetwork(ctx, c, id))
	}
	return errors.Join(errs...)
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
