package docker

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Attach runs the session's command in the agent container, as `docker
// exec` does: with a pseudo-terminal sized and resized as the session
// says when it asks for one, with plain streams otherwise. It returns the
// command's exit status.
func (b *Backend) Exec(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	h, ok := a.Handle.(handle)
	if !ok {
		return 0, backend.ErrNotFound
	}
	c, err := b.client()
	if err != nil {
		return 0, err
	}
	ex, err := c.ExecCreate(ctx, h.container, client.ExecCreateOptions{
		Cmd:          s.Command,
		Env:          s.Env,
		TTY:          s.TTY,
		AttachStdin:  s.TTY || s.In != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", s.Command, err)
	}
	var size client.ConsoleSize
	if s.TTY {
		size = client.ConsoleSize{Height: s.Size.Height, Width: s.Size.Width}
	}
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: s.TTY, ConsoleSize: size})
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", s.Command, err)
	}
	defer att.Close()
	// Cancelling (a signal to the tool) ends the session's streams.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	if s.TTY {
		err = interact(ctx, c, ex.ID, s, att)
	} else {
		if s.In != nil {
			go func() {
				io.Copy(att.Conn, s.In)
				att.CloseWrite()
			}()
		}
		_, err = stdcopy.StdCopy(s.Out, s.Err, att.Reader)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	return exitCode(ctx, c, ex.ID)
}

// interact connects the session's terminal to the exec's pseudo-terminal
// until the command ends, keeping their sizes equal.
func interact(ctx context.Context, c *client.Client, execID string, s backend.Session, att client.ExecAttachResult) error {
	resize := func(sz backend.Size) {
		c.ExecResize(ctx, execID, client.ExecResizeOptions{Height: sz.Height, Width: sz.Width})
	}
	// The size given at create time is not honoured by every Engine: send it again.
	resize(s.Size)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case sz := <-s.Resize:
				resize(sz)
			}
		}
	}()
	go func() {
		io.Copy(att.Conn, s.In)
		att.CloseWrite()
	}()
	_, err := io.Copy(s.Out, att.Reader)
	return err
}

// exitCode waits briefly for the Engine to record the end of the exec, which
// can lag behind the end of its output stream.
func exitCode(ctx context.Context, c *client.Client, execID string) (int, error) {
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		res, err := c.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("reading the exit status: %w", err)
		}
		if !res.Running || wait > time.Second {
			return res.ExitCode, nil
		}
		time.Sleep(wait)
	}
}
