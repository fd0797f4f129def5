package smolmachines

import (
	"context"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Stop stops the agent's machine, if it was running when listed, and
// deletes it.
func (b *Backend) Stop(ctx context.Context, a agent.Agent) error {
	name, err := machineOf(a)
	if err != nil {
		return err
	}
	if a.State == "running" {
		if _, err := b.smolvm(ctx, nil, "machine", "stop", "--name", name); err != nil {
			return err
		}
	}
	_, err = b.smolvm(ctx, nil, "machine", "delete", "--name", name, "-f")
	return err
}
