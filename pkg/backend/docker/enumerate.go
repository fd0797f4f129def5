package docker

import (
	"context"
	"time"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Enumerate lists the agents with one container-list request: the labels
// carry everything a line needs, so no container is inspected.
func (b *Backend) Enumerate(ctx context.Context, q agent.Query) ([]agent.Agent, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	res, err := c.ContainerList(ctx, client.ContainerListOptions{
		All:     q.All,
		Filters: labelFilter(q.Labels, labelSlug, labelRole+"="+roleAgent),
	})
	if err != nil {
		return nil, err
	}
	agents := make([]agent.Agent, 0, len(res.Items))
	for _, ctr := range res.Items {
		agents = append(agents, agent.Agent{
			Backend:   b.Name(),
			Slug:      ctr.Labels[labelSlug],
			Name:      ctr.Labels[labelAgent],
			Services:  agent.SplitServices(ctr.Labels[labelServices]),
			StartedAt: time.Unix(ctr.Created, 0).UTC(),
			State:     string(ctr.State),
		})
	}
	return agents, nil
}
