package docker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// allowWait bounds how long SetAllowlist waits for the egress proxy to
// take a new list; it reads its file every 250ms.
const allowWait = 5 * time.Second

// egressUID is the owner of the files the proxy's directory holds: the
// proxy's user (egressUser).
const egressUID = 65534

// Allowlist reads the list the egress proxy says it has in force
// (rules.AllowInForceFile in its directory) from the egress sidecar's
// container, through the Engine's archive endpoint.
func (b *Backend) Allowlist(ctx context.Context, a agent.Agent) ([]string, error) {
	c, id, err := b.egressOf(a)
	if err != nil {
		return nil, err
	}
	return inForce(ctx, c, id)
}

// SetAllowlist writes patterns as the egress proxy's rules.AllowFile, in
// its directory (a volume of the bottle's, which outlives the proxy's
// container, so that a restarted proxy takes the list again), owned by the
// proxy's user, and waits until the proxy says it has them in force. The
// proxy's container must be running: else nothing is written.
func (b *Backend) SetAllowlist(ctx context.Context, a agent.Agent, patterns []string) error {
	c, id, err := b.egressOf(a)
	if err != nil {
		return err
	}
	want := make([]string, len(patterns))
	for i, p := range patterns {
		parsed, err := rules.ParsePattern(p)
		if err != nil {
			return err
		}
		want[i] = parsed.String()
	}
	info, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("its egress proxy: %w", err)
	}
	if st := info.Container.State; st == nil || !st.Running {
		status := "unknown"
		if st != nil {
			status = string(st.Status)
		}
		return fmt.Errorf("its egress proxy is not running (%s): nothing changed", status)
	}

	if err := writeContainerFile(ctx, c, id, egressStateDir, rules.AllowFile, rules.FormatAllowFile(want), egressUID); err != nil {
		return fmt.Errorf("writing its egress proxy's allowlist: %w", err)
	}

	wctx, cancel := context.WithTimeout(ctx, allowWait)
	defer cancel()
	for {
		got, err := inForce(wctx, c, id)
		if err == nil && slices.Equal(got, want) {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("its egress proxy has not taken the new allowlist within %s (the list is written and will be taken when it reads it; %s)", allowWait, lastLine(ctx, c, id))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// egressOf returns the Engine client and the egress sidecar's container of
// the agent, or an error wrapping backend.ErrNoEgress if it has none.
func (b *Backend) egressOf(a agent.Agent) (*client.Client, string, error) {
	c, h, err := b.handleOf(a)
	if err != nil {
		return nil, "", err
	}
	id, ok := h.sidecars[EgressSidecar]
	if !ok {
		return nil, "", fmt.Errorf("its definition has no %s sidecar: %w", EgressSidecar, backend.ErrNoEgress)
	}
	return c, id, nil
}

// inForce reads the list the proxy in container id has in force.
func inForce(ctx context.Context, c *client.Client, id string) ([]string, error) {
	content, err := readContainerFile(ctx, c, id, path.Join(egressStateDir, rules.AllowInForceFile))
	switch {
	case cerrdefs.IsNotFound(err):
		return nil, errors.New("its egress proxy has not said which allowlist it has in force (a bottle-egress older than bottle-allow?)")
	case err != nil:
		return nil, fmt.Errorf("reading its egress proxy's allowlist: %w", err)
	}
	patterns, err := rules.ParseAllowFile(content)
	if err != nil {
		return nil, fmt.Errorf("its egress proxy's allowlist in force: %w", err)
	}
	return patterns, nil
}

var _ backend.Allowlister = (*Backend)(nil)
