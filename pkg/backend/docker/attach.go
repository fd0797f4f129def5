package docker

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// exitGrace is how long after the end of a joined session's stream the
// Engine has to report the program's end before the stream's end is taken
// for the Engine letting go of the session instead.
const exitGrace = 2 * time.Second

// Join connects the session to the agent container's main process, the
// agent's program on its terminal, as `docker attach` does: any number of
// sessions may be joined at once, and leaving one leaves the program
// running. On joining, the program's terminal is resized twice, to one
// line less and back, so that a full-screen program redraws what is on
// it now.
func (b *Backend) Join(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	c, h, err := b.handleOf(a)
	if err != nil {
		return 0, err
	}
	// Asked before joining, so that an end while joined is not missed.
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	wait := c.ContainerWait(waitCtx, h.container, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	att, err := c.ContainerAttach(ctx, h.container, client.ContainerAttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true,
		// The command layer watches for the user's keys itself; told them,
		// the Engine does not apply its own default sequence as well.
		DetachKeys: s.DetachKeys,
	})
	if err != nil {
		return 0, fmt.Errorf("joining its program: %w", err)
	}
	defer att.Close()

	resize := func(sz backend.Size) {
		c.ContainerResize(ctx, h.container, client.ContainerResizeOptions{Height: sz.Height, Width: sz.Width})
	}
	if s.Size.Height > 1 {
		resize(backend.Size{Width: s.Size.Width, Height: s.Size.Height - 1})
	}
	resize(s.Size)
	left := make(chan struct{})
	go func() {
		defer close(left)
		io.Copy(att.Conn, s.In)
	}()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		io.Copy(s.Out, att.Reader)
	}()
	for {
		select {
		case sz := <-s.Resize:
			resize(sz)
		case <-left:
			return 0, backend.ErrDetached
		case <-ctx.Done():
			return 0, backend.ErrDetached
		case <-ended:
			select {
			case res := <-wait.Result:
				return int(res.StatusCode), nil
			case err := <-wait.Error:
				return 0, fmt.Errorf("waiting for its program to end: %w", err)
			case <-time.After(exitGrace):
				return 0, fmt.Errorf("the Docker Engine ended the session's stream: %w", backend.ErrDetached)
			}
		}
	}
}
