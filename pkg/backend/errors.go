package backend

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// ErrNotFound is what a reference to an agent comes to when no listing has
// it, and what Stop, Exec, Join and Logs return for an agent that no listing of
// their backend found.
var ErrNotFound = errors.New("no such agent")

// ErrDetached is what Join returns when the user left the agent's program
// running.
var ErrDetached = errors.New("detached")

// ErrNoLogs is what Logs wraps for a service whose output its backend
// cannot read.
var ErrNoLogs = errors.New("no log")

// ErrNoEgress is what an Allowlister wraps for a bottle without an egress
// proxy, whose agent reaches nothing.
var ErrNoEgress = errors.New("no egress proxy")

// ErrUnusable is what a backend wraps when its tools are not there at all.
var ErrUnusable = errors.New("not usable here")

// ErrNoAnswer is what a backend wraps when something is there (a socket, a
// program) but does not answer in time: a fault worth reporting, unlike a
// backend that is simply not installed.
var ErrNoAnswer = errors.New("no answer")

// ErrSlugTaken is what a backend's Start wraps when the slug, or a name
// made from it, is already in use there: a generated slug can then be
// drawn again.
var ErrSlugTaken = errors.New("already in use")

// Absent marks err, which says in its own words why a backend's tools are
// not there, as ErrUnusable.
func Absent(err error) error { return absent{err} }

type absent struct{ error }

func (e absent) Unwrap() []error { return []error{e.error, ErrUnusable} }

// UnknownError is returned for a backend name that no backend of the set has.
type UnknownError struct {
	Name   string
	Source string   // where the name came from, e.g. "--backend" or "BOTTLE_BACKEND"
	Valid  []string // the names there are
}

func (e *UnknownError) Error() string {
	where := ""
	if e.Source != "" {
		where = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("unknown backend %q%s: valid backends are %s", e.Name, where, strings.Join(e.Valid, ", "))
}

// UnusableError says why a known backend cannot be used on this host.
type UnusableError struct {
	Backend string
	Reason  error
}

func (e *UnusableError) Error() string { return e.Backend + ": " + e.Reason.Error() }
func (e *UnusableError) Unwrap() error { return e.Reason }

// AmbiguousError is returned for a bare slug that more than one backend has.
type AmbiguousError struct {
	Slug   string
	Agents []agent.Agent
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "slug %s is on more than one backend; pass one of these lines instead:", e.Slug)
	for _, a := range e.Agents {
		var line strings.Builder
		agent.WriteLine(&line, a)
		b.WriteString("\n" + strings.TrimSuffix(line.String(), "\n"))
	}
	return b.String()
}
