package smolmachines

import (
	"context"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Stop stops the agent's machine and deletes it.
func (b *Backend) Stop(ctx context.Context, a agent.Agent) error {
	name, err := machineOf(a)
	if err != nil {
		return err
	}
	return b.remove(ctx, name)
}

// remove stops the machine, then deletes it, whatever state it was
// listed in: the machine of a start that was cancelled or killed is
// "created" while its VM runs on, and only `machine stop` ends that VM
// (`machine delete` stops only a machine it has as running, and would
// leave the VM running without its machine). A machine that could not be
// stopped is not deleted, so that it can still be found and stopped.
func (b *Backend) remove(ctx context.Context, name string) error {
	if _, err := b.smolvm(ctx, nil, "machine", "stop", "--name", name); err != nil {
		return err
	}
	_, err := b.smolvm(ctx, nil, "machine", "delete", "--name", name, "-f")
	return err
}
