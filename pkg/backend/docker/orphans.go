package docker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/moby/moby/client"
)

// RemoveOrphans removes the remains of bottles whose agent is not running
// (a start killed midway, an agent that exited) and that are older than
// olderThan, so that a start under way now is left alone. It returns the
// slugs it removed.
func (b *Backend) RemoveOrphans(ctx context.Context, labels map[string]string, olderThan time.Duration) ([]string, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	filter := labelFilter(labels, labelSlug)
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, err
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	type remains struct {
		containers, networks []string
		running, recent      bool
	}
	bySlug := map[string]*remains{}
	of := func(slug string) *remains {
		if bySlug[slug] == nil {
			bySlug[slug] = &remains{}
		}
		return bySlug[slug]
	}
	for _, ctr := range ctrs.Items {
		r := of(ctr.Labels[labelSlug])
		r.containers = append(r.containers, ctr.ID)
		r.running = r.running || ctr.Labels[labelRole] == roleAgent && ctr.State == "running"
		r.recent = r.recent || time.Unix(ctr.Created, 0).After(cutoff)
	}
	for _, n := range nets.Items {
		r := of(n.Labels[labelSlug])
		r.networks = append(r.networks, n.ID)
		r.recent = r.recent || n.Created.After(cutoff)
	}
	var removed []string
	var errs []error
	for slug, r := range bySlug {
		if r.running || r.recent {
			continue
		}
		errs = append(errs, remove(ctx, c, r.containers, r.networks))
		removed = append(removed, slug)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}
