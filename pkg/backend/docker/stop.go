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
	errs := make([]error, len(ctrs.Items))
	each(len(ctrs.Items), func(i int) error {
		errs[i] = removeContainer(ctx, c, ctrs.Items[i].ID)
		return nil
	})
	for _, n := range nets.Items {
		errs = append(errs, removeNetwork(ctx, c, n.ID))
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
