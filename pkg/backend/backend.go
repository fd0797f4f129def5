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
	// each with the Handle that Stop, Exec, Join and Logs need. It is its own probe:
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
	// Exec runs s.Command in the agent, as Enumerate found it, beside the
	// agent's program, and returns the command's exit status. The command
	// ends, with every process it started, when the caller goes away, by
	// ctx or by dying: a one-off command never outlives its client.
	Exec(ctx context.Context, a agent.Agent, s Session) (int, error)
}

// Joiner is a backend whose agents' programs (the bottle's session) can be
// joined from a terminal, left and joined again while they run.
type Joiner interface {
	// Join connects s to the agent's program, as Enumerate found it, until
	// the program ends, returning its exit status, or until s.In ends or
	// fails (the user's detach keys, or the terminal going away), which
	// leaves the program running and returns ErrDetached. s.Command is
	// not used.
	Join(ctx context.Context, a agent.Agent, s Session) (int, error)
}

// Logger is a backend that keeps what an agent's program and its sidecars
// wrote.
type Logger interface {
	// Logs copies to out what the named service wrote, or the agent's
	// program when service is "", as the program wrote it (terminal
	// control sequences included), selected by o. With o.Follow it goes
	// on until ctx is done or the service ends. A service whose output
	// the backend cannot read fails with an error wrapping ErrNoLogs.
	Logs(ctx context.Context, a agent.Agent, service string, o LogOptions, out io.Writer) error
}

// Allowlister is a backend whose bottles' egress allowlists can be read
// and changed while they run, without a restart.
type Allowlister interface {
	// Allowlist returns the patterns in force for the agent's bottle, in
	// order. A bottle without an egress proxy fails with an error
	// wrapping ErrNoEgress.
	Allowlist(ctx context.Context, a agent.Agent) ([]string, error)
	// SetAllowlist puts patterns, which the caller has checked against
	// the grammar, in force for the agent's bottle: within a second, for
	// the bottle's life, a restart of its proxy included; its definition
	// is never rewritten. A bottle without an egress proxy fails with an
	// error wrapping ErrNoEgress.
	SetAllowlist(ctx context.Context, a agent.Agent, patterns []string) error
}

// LogOptions selects the part of a log that Logs copies.
type LogOptions struct {
	Follow bool      // go on with what is written from now on
	Since  time.Time // only what was written from then on; zero: from the start
	Tail   int       // only the last Tail lines of what is there now; negative: all
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

// Session is the user's side of a command run in an agent, or of the
// agent's program joined. The command layer owns the user's terminal: with
// TTY, In and Out are that terminal, already in raw mode, and the backend
// only passes bytes and sizes on. The command layer also watches In for
// the user's detach keys, and ends In when it sees them.
type Session struct {
	Command []string // what Exec runs, never empty there
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
	// DetachKeys are the user's detach keys, as docker spells them
	// ("ctrl-p,ctrl-q"), for a backend whose own end applies a default
	// sequence of its own unless it is told the user's.
	DetachKeys string
}

// Size is a terminal's size in character cells.
type Size struct{ Width, Height uint }
