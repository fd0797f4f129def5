package smolmachines

import (
	"context"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Stop stops the agent's machine, if it runs, and deletes it. It touches
// only a machine that carries the toolkit's labels.
func (b *Backend) Stop(ctx context.Context, slug string, labels map[string]string) error {
	m, err := find(ctx, slug, labels)
	if err != nil {
		return err
	}
	if m.State == "running" {
		if _, err := smolvm(ctx, nil, "machine", "stop", "--name", m.Name); err != nil {
			return err
		}
	}
	_, err = smolvm(ctx, nil, "machine", "delete", "--name", m.Name, "-f")
	return err
}

// find returns the toolkit's machine with the slug, whatever its state.
func find(ctx context.Context, slug string, labels map[string]string) (machine, error) {
	machines, err := list(ctx)
	if err != nil {
		return machine{}, err
	}
	for _, m := range machines {
		if m.Labels[labelSlug] == slug && m.Name == slug && carries(m.Labels, labels) {
			return m, nil
		}
	}
	return machine{}, agent.ErrNotFound
}
