package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// tetherPath is where bottle-tether is in every agent container: on the
// bottle's own volume, mounted read-only at /.bottle.
const tetherPath = tetherDir + "/bottle-tether"

// Exec runs the session's command in the agent container, as `docker exec`
// does: with a pseudo-terminal sized and resized as the session says when
// it asks for one, with plain streams otherwise. It returns the command's
// exit status.
//
// The Engine does not end an exec whose client has gone, so the command
// runs under bottle-tether, tied to a second exec whose input is this
// client's connection: when that ends (the client was interrupted, killed,
// or lost its terminal), bottle-tether ends the command with every process
// it started.
func (b *Backend) Exec(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	c, h, err := b.handleOf(a)
	if err != nil {
		return 0, err
	}
	token := tetherToken()
	ex, err := c.ExecCreate(ctx, h.container, client.ExecCreateOptions{
		Cmd:          append([]string{tetherPath, "run", token, "--"}, s.Command...),
		Env:          s.Env,
		TTY:          s.TTY,
		AttachStdin:  s.TTY || s.In != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", s.Command, err)
	}
	hold, err := c.ExecCreate(ctx, h.container, client.ExecCreateOptions{
		Cmd:          []string{tetherPath, "hold", token},
		AttachStdin:  true,
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
	// The tie: held open, never written, until this returns or the
	// process dies.
	tie, err := c.ExecAttach(ctx, hold.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("running %q: tying it to this terminal: %w", s.Command, err)
	}
	defer tie.Close()
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

// tetherToken names the tie between a command and its client: 32 hex
// digits, as bottle-tether takes them.
func tetherToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
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
