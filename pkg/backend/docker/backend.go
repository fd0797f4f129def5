// Package docker runs agents as Docker containers over the Engine API: one
// container for the agent and one per sidecar, on a private network of the
// bottle's own. It needs no docker CLI.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// pingTimeout bounds the usability check, so that an address that swallows
// packets costs seconds, not minutes.
const pingTimeout = 2 * time.Second

// Backend is the docker backend. Its Engine client is made on first use, so
// that a binary which never touches Docker pays nothing for it.
type Backend struct {
	cfg  Config
	conn func() (conn, error)
}

// conn is the Engine client and the endpoint it was made for.
type conn struct {
	c  *client.Client
	ep endpoint
}

// New returns the docker backend, configured as the docker CLI would be by
// the same environment: from the standard Docker variables, or, when no
// DOCKER_HOST is given, from the Docker context that DOCKER_CONTEXT or the
// CLI's config.json names.
func New(cfg Config) *Backend {
	cfg.TetherImage = cmp.Or(cfg.TetherImage, DefaultTetherImage)
	return &Backend{cfg: cfg, conn: sync.OnceValues(func() (conn, error) {
		c, ep, err := newClient(cfg)
		return conn{c, ep}, err
	})}
}

// client returns the Engine client, made once per process.
func (b *Backend) client() (*client.Client, error) {
	cn, err := b.conn()
	return cn.c, err
}

func (b *Backend) Name() string { return "docker" }

// Usable pings the Engine.
func (b *Backend) Usable(ctx context.Context) error {
	_, err := b.ping(ctx)
	return err
}

// ping returns the Engine client once the Engine has answered a ping,
// which negotiates the API version on the way, so that the requests that
// follow need no second round trip. Settings that name no Engine, or an
// Engine that cannot be reached, are backend.ErrUnusable; an Engine that
// does not answer within pingTimeout is backend.ErrNoAnswer.
func (b *Backend) ping(ctx context.Context) (*client.Client, error) {
	cn, err := b.conn()
	if err != nil {
		if errors.As(err, new(contextError)) {
			return nil, backend.Absent(err)
		}
		return nil, backend.Absent(fmt.Errorf("bad Docker settings: %w", err))
	}
	c, at := cn.c, cn.c.DaemonHost()
	if cn.ep.Context != "" {
		at += fmt.Sprintf(" (docker context %q)", cn.ep.Context)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("no Docker Engine answers at %s: %w within %s", at, backend.ErrNoAnswer, pingTimeout)
		}
		return nil, backend.Absent(fmt.Errorf("no Docker Engine answers at %s: %s", at, rootCause(ctx, c.DaemonHost(), err)))
	}
	return c, nil
}

// rootCause turns the client's layered connection errors into the few
// words a user acts on. The client drops the cause of a refused or timed-out
// connection, so that case dials the address once more to find it.
func rootCause(ctx context.Context, host string, err error) string {
	if client.IsErrConnectionFailed(err) {
		if u, perr := url.Parse(host); perr == nil && (u.Scheme == "unix" || u.Scheme == "tcp") {
			addr := u.Host
			if u.Scheme == "unix" {
				addr = u.Path
			}
			conn, derr := (&net.Dialer{}).DialContext(ctx, u.Scheme, addr)
			if derr == nil {
				conn.Close()
			} else {
				err = derr
			}
		}
	}
	var errno syscall.Errno
	var opErr *net.OpError
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	}
	return err.Error()
}
