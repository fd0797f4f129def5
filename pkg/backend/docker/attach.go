package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/tty"
)

// Attach runs the session's command, or the attach command recorded on the
// agent at start, in the agent container, as `docker exec` does: with a
// pseudo-terminal sized and resized like the user's when the session has a
// terminal, with plain streams otherwise. It returns the command's exit
// status.
func (b *Backend) Attach(ctx context.Context, slug string, labels map[string]string, s *tty.Session) (int, error) {
	c, err := b.client()
	if err != nil {
		return 0, err
	}
	res, err := c.ContainerList(ctx, client.ContainerListOptions{
		Filters: labelFilter(labels, labelSlug+"="+slug, labelRole+"="+roleAgent),
	})
	if err != nil {
		return 0, err
	}
	if len(res.Items) == 0 {
		return 0, agent.ErrNotFound
	}
	ctr := res.Items[0]
	cmd := s.Command
	if len(cmd) == 0 {
		if err := json.Unmarshal([]byte(ctr.Labels[labelAttach]), &cmd); err != nil || len(cmd) == 0 {
			cmd = []string{"/bin/sh"}
		}
	}

	term := s.Terminal
	opts := client.ExecCreateOptions{
		Cmd:          cmd,
		Env:          s.Env,
		TTY:          term != nil,
		AttachStdin:  term != nil || s.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	}
	var size client.ConsoleSize
	if term != nil {
		sz := term.Size()
		size = client.ConsoleSize{Height: sz.Height, Width: sz.Width}
	}
	ex, err := c.ExecCreate(ctx, ctr.ID, opts)
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", cmd, err)
	}
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: term != nil, ConsoleSize: size})
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", cmd, err)
	}
	defer att.Close()
	// Cancelling (a signal to the tool) ends the session's streams.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	if term == nil {
		if s.Stdin != nil {
			go func() {
				io.Copy(att.Conn, s.Stdin)
				att.CloseWrite()
			}()
		}
		_, err = stdcopy.StdCopy(s.Stdout, s.Stderr, att.Reader)
	} else {
		err = interact(ctx, c, ex.ID, term, att)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	return exitCode(ctx, c, ex.ID)
}

// interact connects the terminal, in raw mode, to the exec's pseudo-terminal
// until the command ends, keeping their sizes equal.
func interact(ctx context.Context, c *client.Client, execID string, term *tty.Terminal, att client.ExecAttachResult) error {
	if err := term.MakeRaw(); err != nil {
		return fmt.Errorf("setting the terminal to raw mode: %w", err)
	}
	defer term.Restore()
	resize := func(sz tty.Size) {
		c.ExecResize(ctx, execID, client.ExecResizeOptions{Height: sz.Height, Width: sz.Width})
	}
	// The size given at create time is not honoured by every Engine: send it again.
	resize(term.Size())
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	term.WatchResize(watchCtx, resize)
	go func() {
		io.Copy(att.Conn, term.Reader())
		att.CloseWrite()
	}()
	_, err := io.Copy(term.Writer(), att.Reader)
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
