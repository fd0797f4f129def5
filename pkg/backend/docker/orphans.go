package docker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// RemoveOrphans removes the remains (containers, networks, volumes) of bottles whose agent is not running
// (a start killed midway, an agent that exited) and that are older than
// olderThan, so that a start under way now is left alone. It returns the
// slugs it removed. It pings the Engine first, as Enumerate does.
func (b *Backend) RemoveOrphans(ctx context.Context, user map[string]string, olderThan time.Duration) ([]string, error) {
	c, err := b.ping(ctx)
	if err != nil {
		return nil, err
	}
	filter := labelFilter(user, labels.Slug)
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, err
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, err
	}
	vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	type remains struct {
		containers, networks, volumes []string
		running, recent               bool
	}
	bySlug := map[string]*remains{}
	of := func(slug string) *remains {
		if bySlug[slug] == nil {
			bySlug[slug] = &remains{}
		}
		return bySlug[slug]
	}
	for _, ctr := range ctrs.Items {
		r := of(ctr.Labels[labels.Slug])
		r.containers = append(r.containers, ctr.ID)
		r.running = r.running || ctr.Labels[labels.Role] == labels.RoleAgent && ctr.State == "running"
		r.recent = r.recent || time.Unix(ctr.Created, 0).After(cutoff)
	}
	for _, n := range nets.Items {
		r := of(n.Labels[labels.Slug])
		r.networks = append(r.networks, n.ID)
		r.recent = r.recent || n.Created.After(cutoff)
	}
	for _, v := range vols.Items {
		r := of(v.Labels[labels.Slug])
		r.volumes = append(r.volumes, v.Name)
		created, err := time.Parse(time.RFC3339, v.CreatedAt)
		r.recent = r.recent || err != nil || created.After(cutoff)
	}
	var removed []string
	var errs []error
	for slug, r := range bySlug {
		if r.running || r.recent {
			continue
		}
		errs = append(errs, remove(ctx, c, r.containers, r.networks, r.volumes))
		removed = append(removed, slug)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}
