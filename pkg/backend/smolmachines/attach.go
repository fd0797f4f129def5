package smolmachines

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Attach runs the session's command through `smolvm machine exec`, with
// the session's streams as its own: with a terminal, smolvm is in the
// terminal's foreground process group and sees window resizes itself. It
// returns the command's exit status, which smolvm passes through.
func (b *Backend) Attach(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	name, err := machineOf(a)
	if err != nil {
		return 0, err
	}
	if a.State != "running" {
		return 0, fmt.Errorf("machine %s is %s, not running", name, a.State)
	}
	args := []string{"machine", "exec", "--name", name}
	if s.TTY || s.In != nil {
		args = append(args, "-i")
	}
	if s.TTY {
		args = append(args, "-t")
	}
	for _, kv := range s.Env {
		args = append(args, "-e", kv)
	}
	run, err := b.command(ctx, nil, append(append(args, "--"), s.Command...)...)
	if err != nil {
		return 0, err
	}
	run.Stdin, run.Stdout, run.Stderr = s.In, s.Out, s.Err
	err = run.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), nil
	case err != nil:
		return 0, fmt.Errorf("running %s: %w", run.Path, err)
	}
	return 0, nil
}
