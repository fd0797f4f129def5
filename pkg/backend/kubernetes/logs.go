package kubernetes

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Logs copies what a container of the agent's pod wrote, through the API's
// log subresource: the agent's program for service "", else the sidecar's
// container of that name.
func (b *Backend) Logs(ctx context.Context, a agent.Agent, service string, o backend.LogOptions, out io.Writer) error {
	h, c, err := b.pod(a)
	if err != nil {
		return err
	}
	container := service
	if container == "" {
		container = agentContainer
	}
	req := c.rest.Get().Namespace(h.namespace).Resource("pods").Name(h.pod).SubResource("log").
		Param("container", container)
	if o.Follow {
		req = req.Param("follow", "true")
	}
	if !o.Since.IsZero() {
		req = req.Param("sinceTime", o.Since.UTC().Format(time.RFC3339))
	}
	if o.Tail >= 0 {
		req = req.Param("tailLines", strconv.Itoa(o.Tail))
	}
	stream, err := req.Stream(ctx)
	if err != nil {
		return fmt.Errorf("the log of %s: %v: %w", container, err, backend.ErrNoLogs)
	}
	defer stream.Close()
	_, err = io.Copy(out, stream)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
