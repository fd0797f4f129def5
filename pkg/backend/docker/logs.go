package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Logs copies what the Engine keeps of a container's output, stdout and
// stderr together, as `docker logs` does, with one request: the agent's
// container's when service is "", else the container of the sidecar of
// that name, as the listing that found the agent saw them. The agent's
// program runs on a terminal, so its log is the terminal's one stream as
// the program wrote it; a sidecar's is the Engine's stdout and stderr
// multiplexed, taken apart here.
func (b *Backend) Logs(ctx context.Context, a agent.Agent, service string, o backend.LogOptions, out io.Writer) error {
	c, h, err := b.handleOf(a)
	if err != nil {
		return err
	}
	id, tty := h.container, true
	if service != "" {
		var ok bool
		if id, ok = h.sidecars[service]; !ok {
			return fmt.Errorf("no service %q: %w", service, backend.ErrNoLogs)
		}
		tty = false
	}
	logs, err := c.ContainerLogs(ctx, id, logsOptions(o))
	if err != nil {
		return logsError(ctx, err)
	}
	defer logs.Close()
	// Following, the stream ends when the container does or when ctx is
	// done: the client closes it then.
	if tty {
		_, err = io.Copy(out, logs)
	} else {
		_, err = stdcopy.StdCopy(out, out, logs)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// logsOptions says o as the Engine's request does.
func logsOptions(o backend.LogOptions) client.ContainerLogsOptions {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: o.Follow, Tail: "all"}
	if o.Tail >= 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	// The Engine takes seconds since the epoch, with a fraction; 0, or
	// nothing, is the start of the log.
	if !o.Since.IsZero() && o.Since.Unix() > 0 {
		opts.Since = fmt.Sprintf("%d.%09d", o.Since.Unix(), o.Since.Nanosecond())
	}
	return opts
}

// logsError says why the Engine gave no log: a container that is gone is
// an agent that is, and a logging driver that keeps nothing to read back
// (none, syslog, ...: the Engine answers 501) one whose output cannot be
// read.
func logsError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case cerrdefs.IsNotFound(err):
		return backend.ErrNotFound
	case cerrdefs.IsNotImplemented(err):
		return fmt.Errorf("%w: %w", backend.ErrNoLogs, err)
	}
	return fmt.Errorf("reading its log: %w", err)
}
