// Package backend is what every bottle binary talks to: the interface a
// backend implements, the registry of backends, the resolver that picks one
// for a start, and the operations that span all of them.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend/docker"
	"github.com/bottle-dev/bottle/pkg/backend/smolmachines"
	"github.com/bottle-dev/bottle/pkg/tty"
)

// Backend runs agents on one sandbox technology. Labels passed to its
// methods are the user's own marks: Start puts them on everything it
// creates, and Enumerate and Stop see only agents that carry all of them.
type Backend interface {
	Name() string
	// Usable returns nil when the backend can run agents on this host, or
	// the reason it cannot. It answers within a few seconds, always.
	Usable(ctx context.Context) error
	// Enumerate returns the backend's agents that q selects, in one query.
	Enumerate(ctx context.Context, q agent.Query) ([]agent.Agent, error)
	// Start creates and starts an agent with the given slug; on any failure,
	// or when ctx is cancelled, it removes what it created before returning.
	Start(ctx context.Context, slug string, def *agentdef.Definition, labels map[string]string) (agent.Agent, error)
	// Stop removes the agent and its sidecars, or returns agent.ErrNotFound.
	Stop(ctx context.Context, slug string, labels map[string]string) error
	// Attach runs a session in the agent and returns the exit status of its
	// command, or agent.ErrNotFound.
	Attach(ctx context.Context, slug string, labels map[string]string, s *tty.Session) (int, error)
}

// ProbingEnumerator is a backend whose listing needs no probe before it:
// its one query tells a backend that is not there (an error wrapping
// agent.ErrUnusable) or hangs (agent.ErrNoAnswer) from one that fails to
// list, so a listing costs it one query instead of two.
type ProbingEnumerator interface {
	EnumerateProbing(ctx context.Context, q agent.Query) ([]agent.Agent, error)
}

// OrphanRemover is a backend that can clear away the remains of bottles
// whose agent is not running, such as a start killed with SIGKILL leaves:
// whatever it made carries the toolkit's labels from the first step on.
type OrphanRemover interface {
	// RemoveOrphans removes remains older than olderThan, so that a start
	// under way is not taken for one, and returns their slugs.
	RemoveOrphans(ctx context.Context, labels map[string]string, olderThan time.Duration) ([]string, error)
}

// registry is every backend the toolkit knows, in the order they are listed.
var registry = []Backend{
	docker.New(),
	smolmachines.New(),
}

// Default is the backend used when neither a flag nor BOTTLE_BACKEND names one.
const Default = "docker"

// EnvBackend is the environment variable that names the backend to start on.
const EnvBackend = "BOTTLE_BACKEND"

// Names returns the names of every known backend, in registry order.
func Names() []string {
	names := make([]string, len(registry))
	for i, b := range registry {
		names[i] = b.Name()
	}
	return names
}

// UnknownError is returned for a backend name that is not in the registry.
type UnknownError struct {
	Name   string
	Source string // where the name came from, e.g. "--backend" or "BOTTLE_BACKEND"
}

func (e *UnknownError) Error() string {
	where := ""
	if e.Source != "" {
		where = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("unknown backend %q%s: valid backends are %s", e.Name, where, strings.Join(Names(), ", "))
}

// Lookup returns the backend with the given name.
func Lookup(name string) (Backend, error) {
	for _, b := range registry {
		if b.Name() == name {
			return b, nil
		}
	}
	return nil, &UnknownError{Name: name}
}

// Resolve picks the backend to start on: the flag's value, else
// $BOTTLE_BACKEND, else Default.
func Resolve(flag string) (Backend, error) {
	name, source := flag, "--backend"
	if name == "" {
		name, source = os.Getenv(EnvBackend), EnvBackend
	}
	if name == "" {
		name, source = Default, ""
	}
	b, err := Lookup(name)
	if err != nil {
		return nil, &UnknownError{Name: name, Source: source}
	}
	return b, nil
}

// UnusableError says why a known backend cannot be used on this host.
type UnusableError struct {
	Backend string
	Reason  error
}

func (e *UnusableError) Error() string { return e.Backend + ": " + e.Reason.Error() }
func (e *UnusableError) Unwrap() error { return e.Reason }

// HasBackend returns nil when the named backend is usable here, an
// *UnknownError when no backend has that name, and an *UnusableError saying
// why otherwise. It is the one place that decides whether a backend is there.
func HasBackend(ctx context.Context, name string) error {
	b, err := Lookup(name)
	if err != nil {
		return err
	}
	return usable(ctx, b)
}

func usable(ctx context.Context, b Backend) error {
	if err := b.Usable(ctx); err != nil {
		return &UnusableError{Backend: b.Name(), Reason: err}
	}
	return nil
}

// Probe asks every named backend at once whether it is usable; the result
// holds one error (nil when usable) per name, in the same order.
func Probe(ctx context.Context, names []string) []error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = HasBackend(ctx, name) })
	}
	wg.Wait()
	return errs
}

// listTimeout bounds one backend's listing, so that an Engine that answers
// a ping and then hangs cannot hang bottle-ls.
var listTimeout = 30 * time.Second

// Listing is what EnumerateActiveAgents found.
type Listing struct {
	// Agents of every usable backend, sorted by backend (in registry
	// order), then slug.
	Agents []agent.Agent
	// Failed says, per usable backend that could not list, why.
	Failed []error
	// Hung says, per backend that is there but did not answer in time,
	// why. Such a backend is not usable, but unlike one that is simply
	// absent it deserves a word.
	Hung []error
}

// EnumerateActiveAgents lists the agents that q selects on every usable
// backend, or on the named ones only, asking all of them at once. Unusable
// backends are skipped; a usable backend that fails to list does not keep
// the others' agents from the listing.
func EnumerateActiveAgents(ctx context.Context, q agent.Query, only ...string) Listing {
	lists := make([][]agent.Agent, len(registry))
	failed := make([]error, len(registry))
	hung := make([]error, len(registry))
	var wg sync.WaitGroup
	for i, b := range registry {
		if len(only) > 0 && !slices.Contains(only, b.Name()) {
			continue
		}
		wg.Go(func() {
			enumerate := b.Enumerate
			if p, ok := b.(ProbingEnumerator); ok {
				enumerate = p.EnumerateProbing
			} else if err := HasBackend(ctx, b.Name()); err != nil {
				if errors.Is(err, agent.ErrNoAnswer) {
					hung[i] = err
				}
				return
			}
			ctx, cancel := context.WithTimeout(ctx, listTimeout)
			defer cancel()
			agents, err := enumerate(ctx, q)
			switch {
			case errors.Is(err, agent.ErrNoAnswer): // a probing listing found it hung
				hung[i] = &UnusableError{Backend: b.Name(), Reason: err}
				return
			case errors.Is(err, agent.ErrUnusable): // a probing listing found it absent
				return
			case ctx.Err() == context.DeadlineExceeded:
				err = fmt.Errorf("%w within %s", agent.ErrNoAnswer, listTimeout)
			}
			if err != nil {
				failed[i] = fmt.Errorf("%s: listing agents: %w", b.Name(), err)
				return
			}
			slices.SortFunc(agents, func(x, y agent.Agent) int { return strings.Compare(x.Slug, y.Slug) })
			lists[i] = agents
		})
	}
	wg.Wait()
	return Listing{Agents: slices.Concat(lists...), Failed: compact(failed), Hung: compact(hung)}
}

func compact(errs []error) []error {
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// RemoveOrphans asks every usable backend that can to remove its orphans,
// all at once, and returns what was removed, in registry order.
func RemoveOrphans(ctx context.Context, labels map[string]string, olderThan time.Duration) ([]agent.Ref, error) {
	removed := make([][]agent.Ref, len(registry))
	errs := make([]error, len(registry))
	var wg sync.WaitGroup
	for i, b := range registry {
		remover, ok := b.(OrphanRemover)
		if !ok {
			continue
		}
		wg.Go(func() {
			if HasBackend(ctx, b.Name()) != nil {
				return
			}
			slugs, err := remover.RemoveOrphans(ctx, labels, olderThan)
			for _, slug := range slugs {
				removed[i] = append(removed[i], agent.Ref{Backend: b.Name(), Slug: slug})
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: removing orphans: %w", b.Name(), err)
			}
		})
	}
	wg.Wait()
	return slices.Concat(removed...), errors.Join(errs...)
}

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

// Locate finds the backend of each referenced agent: the one a reference
// names, or for a bare slug the one usable backend that has it, running or
// not, found with a single enumeration for all bare slugs. For each reference it returns the
// backend or the error that says why there is none.
func Locate(ctx context.Context, refs []agent.Ref, labels map[string]string) ([]Backend, []error) {
	backends := make([]Backend, len(refs))
	errs := make([]error, len(refs))
	var listing Listing
	if slices.ContainsFunc(refs, func(r agent.Ref) bool { return r.Backend == "" }) {
		listing = EnumerateActiveAgents(ctx, agent.Query{Labels: labels, All: true})
	}
	usability := map[string]error{}
	for i, ref := range refs {
		if ref.Backend != "" {
			if _, seen := usability[ref.Backend]; !seen {
				usability[ref.Backend] = HasBackend(ctx, ref.Backend)
			}
			if errs[i] = usability[ref.Backend]; errs[i] == nil {
				backends[i], _ = Lookup(ref.Backend)
			}
			continue
		}
		var found []agent.Agent
		for _, a := range listing.Agents {
			if a.Slug == ref.Slug {
				found = append(found, a)
			}
		}
		switch {
		case len(found) > 1:
			errs[i] = &AmbiguousError{Slug: ref.Slug, Agents: found}
		case len(found) == 1:
			backends[i], errs[i] = Lookup(found[0].Backend)
		case len(listing.Failed)+len(listing.Hung) > 0:
			errs[i] = fmt.Errorf("%s: %w (and %w)", ref.Slug, agent.ErrNotFound, errors.Join(slices.Concat(listing.Failed, listing.Hung)...))
		default:
			errs[i] = fmt.Errorf("%s: %w on any usable backend", ref.Slug, agent.ErrNotFound)
		}
	}
	return backends, errs
}
