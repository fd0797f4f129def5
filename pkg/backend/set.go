package backend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Default is the backend used when neither a flag nor BOTTLE_BACKEND names one.
const Default = "docker"

// EnvBackend is the environment variable whose value Resolve is given.
const EnvBackend = "BOTTLE_BACKEND"

// Set is the backends one binary is built with, in the order they are
// listed. Every operation that spans backends asks them all at once, so
// that a slow one does not add its delay to another's.
type Set struct {
	backends []Backend
	// listTimeout bounds one backend's listing, so that an Engine that
	// answers a ping and then hangs cannot hang bottle-ls.
	listTimeout time.Duration
}

// NewSet returns the set of the given backends, in that order.
func NewSet(backends ...Backend) *Set {
	return &Set{backends: backends, listTimeout: 30 * time.Second}
}

// Names returns the name of every backend of the set, in order.
func (s *Set) Names() []string {
	names := make([]string, len(s.backends))
	for i, b := range s.backends {
		names[i] = b.Name()
	}
	return names
}

// Lookup returns the backend with the given name, or an *UnknownError.
func (s *Set) Lookup(name string) (Backend, error) {
	for _, b := range s.backends {
		if b.Name() == name {
			return b, nil
		}
	}
	return nil, &UnknownError{Name: name, Valid: s.Names()}
}

// Resolve picks the backend to start on: the flag's value, else env (the
// value of BOTTLE_BACKEND), else Default.
func (s *Set) Resolve(flag, env string) (Backend, error) {
	name, source := flag, "--backend"
	if name == "" {
		name, source = env, EnvBackend
	}
	if name == "" {
		name, source = Default, ""
	}
	b, err := s.Lookup(name)
	if err != nil {
		return nil, &UnknownError{Name: name, Source: source, Valid: s.Names()}
	}
	return b, nil
}

// usable returns nil when b is usable here, and an *UnusableError saying
// why otherwise.
func usable(ctx context.Context, b Backend) error {
	if err := b.Usable(ctx); err != nil {
		return &UnusableError{Backend: b.Name(), Reason: err}
	}
	return nil
}

// Probe asks every named backend at once whether it is usable; the result
// holds one error per name, in the same order: nil when usable, an
// *UnknownError or an *UnusableError otherwise.
func (s *Set) Probe(ctx context.Context, names []string) []error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			b, err := s.Lookup(name)
			if err == nil {
				err = usable(ctx, b)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

// Listing is what List found.
type Listing struct {
	// Agents of every usable backend, sorted by backend (in the set's
	// order), then slug.
	Agents []agent.Agent
	// Failed says, per usable backend that could not list, why.
	Failed []error
	// Hung says, per backend that is there but did not answer in time,
	// why. Such a backend is not usable, but unlike one that is simply
	// absent it deserves a word.
	Hung []error
}

// List lists the agents that q selects on every usable backend, or on the
// named ones only, asking all of them at once. Unusable backends are
// skipped; a usable backend that fails to list does not keep the others'
// agents from the listing.
func (s *Set) List(ctx context.Context, q Query, only ...string) Listing {
	var l Listing
	for _, r := range s.list(ctx, q, only) {
		l.Agents = append(l.Agents, r.agents...)
		if r.failed != nil {
			l.Failed = append(l.Failed, r.failed)
		}
		if errors.Is(r.unusable, ErrNoAnswer) {
			l.Hung = append(l.Hung, r.unusable)
		}
	}
	return l
}

// listed is what one backend's listing came to: its agents, sorted by
// slug, or why there are none.
type listed struct {
	agents   []agent.Agent
	unusable error // an *UnusableError: not there, or (wrapping ErrNoAnswer) not answering
	failed   error // there, and failed to list
}

// list asks the backends of the set, or the named ones only, at once; the
// result has one entry per backend of the set, in order.
func (s *Set) list(ctx context.Context, q Query, only []string) []listed {
	results := make([]listed, len(s.backends))
	var wg sync.WaitGroup
	for i, b := range s.backends {
		if len(only) > 0 && !slices.Contains(only, b.Name()) {
			continue
		}
		wg.Go(func() { results[i] = s.listOne(ctx, b, q) })
	}
	wg.Wait()
	return results
}

func (s *Set) listOne(ctx context.Context, b Backend, q Query) listed {
	ctx, cancel := context.WithTimeout(ctx, s.listTimeout)
	defer cancel()
	agents, err := b.Enumerate(ctx, q)
	switch {
	case errors.Is(err, ErrNoAnswer), errors.Is(err, ErrUnusable):
		return listed{unusable: &UnusableError{Backend: b.Name(), Reason: err}}
	case ctx.Err() == context.DeadlineExceeded:
		err = fmt.Errorf("%w within %s", ErrNoAnswer, s.listTimeout)
	}
	if err != nil {
		return listed{failed: fmt.Errorf("%s: listing agents: %w", b.Name(), err)}
	}
	slices.SortFunc(agents, func(x, y agent.Agent) int { return strings.Compare(x.Slug, y.Slug) })
	return listed{agents: agents}
}

// Located is an agent as a listing found it, with the backend it is on:
// what that backend's Stop, Exec, Join and Logs take.
type Located struct {
	Agent   agent.Agent
	Backend Backend
}

// Locate finds each referenced agent, running or not, carrying the user's
// labels: on the backend a reference names, or for a bare slug on the one
// usable backend that has it. It lists each backend it needs once, for all
// references together: every backend when there is a bare slug, else the
// named ones, so that a line whose agent is gone is not found either; a
// named backend that is a Finder, when nothing else lists it, is asked for
// each of its references instead. For each reference it returns the agent
// or the error that says why there is none.
func (s *Set) Locate(ctx context.Context, refs []agent.Ref, user map[string]string) ([]Located, []error) {
	found := make([]Located, len(refs))
	errs := make([]error, len(refs))
	bare := slices.ContainsFunc(refs, func(ref agent.Ref) bool { return ref.Backend == "" })
	named := map[string]bool{}
	var wg sync.WaitGroup
	for i, ref := range refs {
		if ref.Backend == "" {
			continue
		}
		b, err := s.Lookup(ref.Backend)
		if finder, ok := b.(Finder); ok && !bare {
			wg.Go(func() { found[i], errs[i] = s.find(ctx, b, finder, ref, user) })
		} else if errs[i] = err; err == nil {
			named[ref.Backend] = true
		}
	}
	if !bare && len(named) == 0 {
		wg.Wait()
		return found, errs
	}
	var only []string
	if !bare {
		only = slices.Sorted(maps.Keys(named))
	}
	listings := s.list(ctx, Query{Labels: user, All: true}, only)
	wg.Wait()          // the finds ran while the backends were listed
	var faults []error // of the backends that could not say whether they have a slug
	for _, l := range listings {
		if l.failed != nil {
			faults = append(faults, l.failed)
		} else if errors.Is(l.unusable, ErrNoAnswer) {
			faults = append(faults, l.unusable)
		}
	}
	for i, ref := range refs {
		switch {
		case errs[i] != nil:
		case ref.Backend != "" && named[ref.Backend]:
			found[i], errs[i] = s.named(listings, ref)
		case ref.Backend == "":
			found[i], errs[i] = s.bare(listings, ref.Slug, faults)
		}
	}
	return found, errs
}

// find asks the Finder b for the agent of a reference that names it, as
// long as a listing may take.
func (s *Set) find(ctx context.Context, b Backend, f Finder, ref agent.Ref, user map[string]string) (Located, error) {
	ctx, cancel := context.WithTimeout(ctx, s.listTimeout)
	defer cancel()
	a, err := f.Find(ctx, ref.Slug, user)
	switch {
	case errors.Is(err, ErrNoAnswer), errors.Is(err, ErrUnusable):
		return Located{}, &UnusableError{Backend: b.Name(), Reason: err}
	case errors.Is(err, ErrNotFound):
		return Located{}, fmt.Errorf("%s: %w", ref, ErrNotFound)
	case ctx.Err() == context.DeadlineExceeded:
		err = fmt.Errorf("%w within %s", ErrNoAnswer, s.listTimeout)
	}
	if err != nil {
		return Located{}, fmt.Errorf("%s: looking up %s: %w", b.Name(), ref.Slug, err)
	}
	return Located{Agent: a, Backend: b}, nil
}

// named finds the agent of a reference that names its backend.
func (s *Set) named(listings []listed, ref agent.Ref) (Located, error) {
	i := slices.IndexFunc(s.backends, func(b Backend) bool { return b.Name() == ref.Backend })
	l := listings[i]
	switch {
	case l.unusable != nil:
		return Located{}, l.unusable
	case l.failed != nil:
		return Located{}, l.failed
	}
	for _, a := range l.agents {
		if a.Slug == ref.Slug {
			return Located{Agent: a, Backend: s.backends[i]}, nil
		}
	}
	return Located{}, fmt.Errorf("%s: %w", ref, ErrNotFound)
}

// bare finds the agent of a bare slug on the one backend that has it.
func (s *Set) bare(listings []listed, slug string, faults []error) (Located, error) {
	var found []Located
	for i, l := range listings {
		for _, a := range l.agents {
			if a.Slug == slug {
				found = append(found, Located{Agent: a, Backend: s.backends[i]})
			}
		}
	}
	switch {
	case len(found) > 1:
		amb := &AmbiguousError{Slug: slug}
		for _, f := range found {
			amb.Agents = append(amb.Agents, f.Agent)
		}
		return Located{}, amb
	case len(found) == 1:
		return found[0], nil
	case len(faults) > 0:
		return Located{}, fmt.Errorf("%s: %w (and %w)", slug, ErrNotFound, errors.Join(faults...))
	}
	return Located{}, fmt.Errorf("%s: %w on any usable backend", slug, ErrNotFound)
}

// RemoveOrphans asks every backend that can to remove its orphans, all at
// once, and returns what was removed, in the set's order. A backend that
// is not there, or does not answer, is skipped, as a listing skips it.
func (s *Set) RemoveOrphans(ctx context.Context, user map[string]string, olderThan time.Duration) ([]agent.Ref, error) {
	removed := make([][]agent.Ref, len(s.backends))
	errs := make([]error, len(s.backends))
	var wg sync.WaitGroup
	for i, b := range s.backends {
		remover, ok := b.(OrphanRemover)
		if !ok {
			continue
		}
		wg.Go(func() {
			slugs, err := remover.RemoveOrphans(ctx, user, olderThan)
			if len(slugs) == 0 && (errors.Is(err, ErrUnusable) || errors.Is(err, ErrNoAnswer)) {
				return
			}
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
