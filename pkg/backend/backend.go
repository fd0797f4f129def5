// Package backend is what every bottle binary talks to: the interface a
// backend implements, its errors, and the Set of backends a binary is
// built with, whose methods span all of them (probe, list, locate, remove
// orphans). It imports no backend: the command layer builds a Set from the
// backends it configures.
package backend

import (
	"context"
	"io"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// Backend runs agents on one sandbox technology. The user labels passed to
// its methods are the user's own marks: Start puts them on everything it
// creates, and Enumerate sees only agents that carry all of them.
type Backend interface {
	Name() string
	// Usable returns nil when the backend can run agents on this host, or
	// the reason it cannot. It answers within a few seconds, always.
	Usable(ctx context.Context) error
	// Enumerate returns the backend's agents that q selects, in one query,
	// each with the Handle that Stop and Attach need. It is its own probe:
	// a backend that is not there fails with an error wrapping
	// ErrUnusable, one that is there but does not answer in time with one
	// wrapping ErrNoAnswer.
	Enumerate(ctx context.Context, q Query) ([]agent.Agent, error)
	// Start creates and starts an agent with the given slug and reports it
	// as the backend sees it then. A backend that is not there, or does
	// not answer, fails as Enumerate does, before anything is made; on any
	// other failure, or when ctx is cancelled, Start removes what it
	// created before returning.
	Start(ctx context.Context, slug string, def *agentdef.Definition, user map[string]string) (agent.Agent, error)
	// Stop removes the agent, as Enumerate with Query.All found it, with
	// its sidecars.
	Stop(ctx context.Context, a agent.Agent) error
	// Attach runs the session's command in the agent, as Enumerate found
	// it, and returns the command's exit status.
	Attach(ctx context.Context, a agent.Agent, s Session) (int, error)
}

// OrphanRemover is a backend that can clear away the remains of bottles
// whose agent is not running, such as a start killed with SIGKILL leaves:
// whatever it made carries the toolkit's labels from the first step on.
type OrphanRemover interface {
	// RemoveOrphans removes remains older than olderThan, so that a start
	// under way is not taken for one, and returns their slugs. A backend
	// that is not there, or does not answer, fails as Enumerate does.
	RemoveOrphans(ctx context.Context, user map[string]string, olderThan time.Duration) ([]string, error)
}

// Finder is a backend that can look one agent up by its slug for less than
// a listing costs, such as smolvm, whose listing asks every machine
// whether it answers. Set.Locate uses it for a reference that names its
// backend.
type Finder interface {
	// Find returns the agent with the slug, running or not, if it carries
	// every one of the user's labels, as Enumerate with Query.All would
	// list it; an error wrapping ErrNotFound when there is none. A backend
	// that is not there, or does not answer, fails as Enumerate does.
	Find(ctx context.Context, slug string, user map[string]string) (agent.Agent, error)
}

// Query selects the agents a listing returns.
type Query struct {
	Labels map[string]string // only agents carrying every one of these
	All    bool              // stopped (and half-made) agents too, not only running ones
}

// Session is the user's side of a command run in an agent. The command
// layer owns the user's terminal: with TTY, In and Out are that terminal,
// already in raw mode, and the backend only passes bytes and sizes on.
type Session struct {
	Command []string // what to run, never empty
	Env     []string // KEY=VALUE added to the command's environment
	In      io.Reader
	Out     io.Writer
	Err     io.Writer
	// TTY asks for a pseudo-terminal inside, of the given Size, resized to
	// each size Resize delivers. Without it the command gets plain
	// streams, and no input at all when In is nil.
	TTY    bool
	Size   Size
	Resize <-chan Size
}

// Size is a terminal's size in character cells.
type Size struct{ Width, Height uint }
