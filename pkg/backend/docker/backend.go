// Package docker runs agents as Docker containers over the Engine API: one
// container for the agent and one per sidecar, on a private network of the
// bottle's own. It needs no docker CLI.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// pingTimeout bounds the usability check, so that an address that swallows
// packets costs seconds, not minutes.
const pingTimeout = 2 * time.Second

// Backend is the docker backend. Its Engine client is made on first use, so
// that a binary which never touches Docker pays nothing for it.
type Backend struct {
	client func() (*client.Client, error)
}

// New returns the docker backend, configured from the standard Docker
// environment variables (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY).
func New() *Backend {
	return &Backend{client: sync.OnceValues(func() (*client.Client, error) {
		return client.New(client.FromEnv)
	})}
}

func (b *Backend) Name() string { return "docker" }

// Usable pings the Engine, negotiating the API version on the way so that
// the requests that follow need no second round trip.
func (b *Backend) Usable(ctx context.Context) error {
	c, err := b.client()
	if err != nil {
		return fmt.Errorf("bad Docker settings: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("no Docker Engine answers at %s: %w within %s", c.DaemonHost(), agent.ErrNoAnswer, pingTimeout)
		}
		return fmt.Errorf("no Docker Engine answers at %s: %s", c.DaemonHost(), rootCause(ctx, c.DaemonHost(), err))
	}
	return nil
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
