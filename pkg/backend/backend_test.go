package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// fake is a Backend whose answers the test decides. The embedded interface
// is nil: a method the tests do not expect to be called panics.
type fake struct {
	Backend
	name       string
	unusable   error        // what Usable returns
	agents     []string     // slugs Enumerate returns
	enumErr    error        // what Enumerate returns instead
	hangs      bool         // Enumerate waits until its context is done
	meet       *together    // Usable and Enumerate wait there for the other backends
	enumerated atomic.Int32 // calls of Enumerate
}

func (f *fake) Name() string { return f.name }

func (f *fake) Usable(ctx context.Context) error {
	if f.meet != nil {
		if err := f.meet.arrive(); err != nil {
			return err
		}
	}
	return f.unusable
}

func (f *fake) Enumerate(ctx context.Context, q Query) ([]agent.Agent, error) {
	f.enumerated.Add(1)
	if f.meet != nil {
		if err := f.meet.arrive(); err != nil {
			return nil, err
		}
	}
	if f.hangs {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.enumErr != nil {
		return nil, f.enumErr
	}
	var out []agent.Agent
	for _, s := range f.agents {
		out = append(out, agent.Agent{Backend: f.name, Slug: s, Name: "reviewer", Services: []string{"egress"}, Handle: f.name + "/" + s})
	}
	return out, nil
}

// together holds backends until all of them have been asked, so that asking
// them one after the other fails a test instead of passing by luck.
type together struct{ wg sync.WaitGroup }

func meeting(n int) *together {
	g := &together{}
	g.wg.Add(n)
	return g
}

var errOneByOne = errors.New("the backends were asked one after the other")

func (g *together) arrive() error {
	g.wg.Done()
	all := make(chan struct{})
	go func() { g.wg.Wait(); close(all) }()
	select {
	case <-all:
		return nil
	case <-time.After(5 * time.Second):
		return errOneByOne
	}
}

func set(bs ...*fake) *Set {
	backends := make([]Backend, len(bs))
	for i, b := range bs {
		backends[i] = b
	}
	return NewSet(backends...)
}

// name is the backend's name, or "" for nil.
func name(b Backend) string {
	if b == nil {
		return ""
	}
	return b.Name()
}

// notThere and hung are what a backend's listing says when it is not
// there, or does not answer.
var (
	notThere = Absent(errors.New("not installed"))
	hung     = fmt.Errorf("socket: %w within 2s", ErrNoAnswer)
)

func TestNamesAndLookup(t *testing.T) {
	t.Parallel()
	beta, alpha := &fake{name: "beta"}, &fake{name: "alpha"}
	s := set(beta, alpha)
	if got := s.Names(); !slices.Equal(got, []string{"beta", "alpha"}) {
		t.Errorf("Names() = %q, want the set's order [beta alpha]", got)
	}
	if b, err := s.Lookup("alpha"); err != nil || b != Backend(alpha) {
		t.Errorf("Lookup(alpha) = %v, %v; want the alpha backend", name(b), err)
	}
	b, err := s.Lookup("gamma")
	var unknown *UnknownError
	if b != nil || !errors.As(err, &unknown) || unknown.Name != "gamma" {
		t.Fatalf("Lookup(gamma) = %v, %v; want *UnknownError for gamma", name(b), err)
	}
	for _, s := range []string{`"gamma"`, "beta, alpha"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Lookup(gamma) error %q does not contain %q", err, s)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backends   []string
		flag, env  string
		want       string // backend, or "" for an error
		errContain []string
	}{
		{[]string{"alpha", "beta"}, "alpha", "beta", "alpha", nil},
		{[]string{"alpha", "beta"}, "beta", "", "beta", nil},
		{[]string{"alpha", "beta"}, "beta", "gamma", "beta", nil},
		{[]string{"alpha", "beta", "docker"}, "", "beta", "beta", nil},
		{[]string{"alpha", "beta", "docker"}, "", "alpha", "alpha", nil},
		{[]string{"alpha", "beta", "docker"}, "", "", "docker", nil},
		{[]string{"alpha", "beta"}, "gamma", "beta", "", []string{`"gamma"`, "--backend", "alpha, beta"}},
		{[]string{"alpha", "beta", "docker"}, "", "gamma", "", []string{`"gamma"`, "BOTTLE_BACKEND", "alpha, beta, docker"}},
		{[]string{"alpha", "beta"}, "", "", "", []string{`"docker"`, "alpha, beta"}},
	} {
		// The default came from neither place: the message must not blame one.
		lacks := []string{"--backend", EnvBackend}
		if tc.flag != "" {
			lacks = []string{EnvBackend}
		} else if tc.env != "" {
			lacks = []string{"--backend"}
		}
		var fakes []*fake
		for _, n := range tc.backends {
			fakes = append(fakes, &fake{name: n})
		}
		b, err := set(fakes...).Resolve(tc.flag, tc.env)
		what := "Resolve(" + tc.flag + ", " + tc.env + ") with backends " + strings.Join(tc.backends, ",")
		if tc.want != "" {
			if err != nil || name(b) != tc.want {
				t.Errorf("%s = %v, %v; want %s", what, name(b), err, tc.want)
			}
			continue
		}
		var unknown *UnknownError
		if b != nil || !errors.As(err, &unknown) {
			t.Errorf("%s = %v, %v; want *UnknownError", what, name(b), err)
			continue
		}
		for _, s := range tc.errContain {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not contain %q", what, err, s)
			}
		}
		for _, s := range lacks {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q mentions %q", what, err, s)
			}
		}
	}
}

func TestUsable(t *testing.T) {
	t.Parallel()
	reason := errors.New("no daemon answers")
	ctx := t.Context()
	if err := usable(ctx, &fake{name: "alpha"}); err != nil {
		t.Errorf("usable(alpha) = %v, want nil", err)
	}
	err := usable(ctx, &fake{name: "beta", unusable: reason})
	var unusable *UnusableError
	if !errors.As(err, &unusable) || !errors.Is(err, reason) || err.Error() != "beta: no daemon answers" {
		t.Errorf("usable(beta) = %v (%T), want *UnusableError %q", err, err, "beta: no daemon answers")
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	meet := meeting(2)
	s := set(&fake{name: "alpha", meet: meet}, &fake{name: "beta", meet: meet, unusable: errors.New("down")})
	errs := s.Probe(t.Context(), []string{"beta", "gamma", "alpha"})
	var unusable *UnusableError
	var unknown *UnknownError
	if len(errs) != 3 || !errors.As(errs[0], &unusable) || errors.Is(errs[0], errOneByOne) || !errors.As(errs[1], &unknown) || errs[2] != nil {
		t.Errorf("Probe(beta, gamma, alpha) = %v, want [*UnusableError(down) *UnknownError nil], asked at once", errs)
	}
}

// slugs gives "backend/slug" for each agent.
func slugs(as []agent.Agent) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Backend+"/"+a.Slug)
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	s := set(
		&fake{name: "beta", agents: []string{"z", "a", "m"}},
		&fake{name: "off", enumErr: notThere},
		&fake{name: "alpha", agents: []string{"c", "b"}},
		&fake{name: "empty"})
	got := s.List(t.Context(), Query{})
	want := []string{"beta/a", "beta/m", "beta/z", "alpha/b", "alpha/c"}
	if !slices.Equal(slugs(got.Agents), want) || len(got.Failed)+len(got.Hung) > 0 {
		t.Errorf("List = %q, %v, %v; want %q and no word of the absent backend", slugs(got.Agents), got.Failed, got.Hung, want)
	}
	if got := s.List(t.Context(), Query{}, "alpha", "off"); !slices.Equal(slugs(got.Agents), []string{"alpha/b", "alpha/c"}) {
		t.Errorf("List of alpha and off = %q, want alpha's agents", slugs(got.Agents))
	}
}

// TestListFailure: each backend's listing is its own probe, and tells a
// backend that is absent (skipped), hangs (a word in Hung) or fails (a
// word in Failed, the others still listed).
func TestListFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := set(
		&fake{name: "alpha", agents: []string{"a"}},
		&fake{name: "broken", enumErr: boom},
		&fake{name: "stuck", hangs: true},
		&fake{name: "hung", enumErr: hung},
		&fake{name: "absent", enumErr: notThere},
		&fake{name: "beta", agents: []string{"b"}})
	s.listTimeout = 50 * time.Millisecond
	got := s.List(t.Context(), Query{})
	if want := []string{"alpha/a", "beta/b"}; !slices.Equal(slugs(got.Agents), want) {
		t.Errorf("List = %q, want the others' agents %q", slugs(got.Agents), want)
	}
	if len(got.Failed) != 2 || !errors.Is(got.Failed[0], boom) || got.Failed[0].Error() != "broken: listing agents: boom" ||
		got.Failed[1].Error() != "stuck: listing agents: no answer within 50ms" {
		t.Errorf("Failed = %v, want the broken and the stuck backend", got.Failed)
	}
	if len(got.Hung) != 1 || got.Hung[0].Error() != "hung: socket: no answer within 2s" {
		t.Errorf("Hung = %v, want the hung backend only, not the absent one", got.Hung)
	}
}

func TestListConcurrent(t *testing.T) {
	t.Parallel()
	meet := meeting(2)
	s := set(&fake{name: "alpha", meet: meet, agents: []string{"a"}}, &fake{name: "beta", meet: meet, agents: []string{"b"}})
	if got := s.List(t.Context(), Query{}); len(got.Agents) != 2 {
		t.Fatalf("List = %q, %v; want both backends' agents, asked at once", slugs(got.Agents), got.Failed)
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	alpha := &fake{name: "alpha", agents: []string{"only-a", "both"}}
	beta := &fake{name: "beta", agents: []string{"both", "only-b"}}
	off := &fake{name: "off", enumErr: notThere}
	s := set(alpha, beta, off)
	listings := func() []int32 {
		return []int32{alpha.enumerated.Load(), beta.enumerated.Load(), off.enumerated.Load()}
	}

	refs := []agent.Ref{
		{Slug: "only-b"},
		{Slug: "both"},
		{Slug: "nowhere"},
		{Backend: "gamma", Slug: "x"},
		{Backend: "off", Slug: "x"},
		{Slug: "only-a"},
		{Backend: "alpha", Slug: "both"},
		{Backend: "alpha", Slug: "only-b"},
	}
	found, errs := s.Locate(t.Context(), refs, nil)
	if len(found) != len(refs) || len(errs) != len(refs) {
		t.Fatalf("Locate of %d refs gave %d agents and %d errors", len(refs), len(found), len(errs))
	}
	if n := listings(); !slices.Equal(n, []int32{1, 1, 1}) {
		t.Errorf("Locate of several refs: listings per backend %v, want one each", n)
	}
	check := func(i int, backend string, ok func(error) bool, what string) {
		t.Helper()
		l := found[i]
		if name(l.Backend) != backend || !ok(errs[i]) {
			t.Errorf("Locate(%v) = %v, %v; want %q, %s", refs[i], name(l.Backend), errs[i], backend, what)
		}
		// The agent comes as the backend listed it, ready to act on.
		if backend != "" && (l.Agent.Slug != refs[i].Slug || l.Agent.Handle != backend+"/"+refs[i].Slug) {
			t.Errorf("Locate(%v) found %+v, not the agent %s listed", refs[i], l.Agent, backend)
		}
	}
	isNil := func(err error) bool { return err == nil }
	notFound := func(err error) bool { return errors.Is(err, ErrNotFound) }
	check(0, "beta", isNil, "no error")
	check(1, "", func(err error) bool {
		var amb *AmbiguousError
		return errors.As(err, &amb) &&
			strings.Contains(err.Error(), "\nalpha\tboth\treviewer\tegress") &&
			strings.Contains(err.Error(), "\nbeta\tboth\treviewer\tegress")
	}, "*AmbiguousError listing the alpha and beta lines")
	check(2, "", notFound, "ErrNotFound")
	check(3, "", func(err error) bool { var e *UnknownError; return errors.As(err, &e) }, "*UnknownError")
	check(4, "", func(err error) bool { var e *UnusableError; return errors.As(err, &e) && errors.Is(err, ErrUnusable) }, "*UnusableError")
	check(5, "alpha", isNil, "no error")
	check(6, "alpha", isNil, "no error")
	check(7, "", func(err error) bool { return notFound(err) && err.Error() == "alpha only-b: no such agent" }, "ErrNotFound on alpha")
}

// A reference that names its backend lists that backend, once, and no
// other: a line whose agent is gone is not found.
func TestLocateNamed(t *testing.T) {
	t.Parallel()
	alpha := &fake{name: "alpha", agents: []string{"a", "b"}}
	beta := &fake{name: "beta", agents: []string{"c"}}
	s := set(alpha, beta)
	refs := []agent.Ref{{Backend: "alpha", Slug: "a"}, {Backend: "alpha", Slug: "b"}, {Backend: "alpha", Slug: "gone"}}
	found, errs := s.Locate(t.Context(), refs, nil)
	if name(found[0].Backend) != "alpha" || name(found[1].Backend) != "alpha" || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrNotFound) {
		t.Errorf("Locate = %v, %v; want a and b on alpha, gone not found", found, errs)
	}
	if a, b := alpha.enumerated.Load(), beta.enumerated.Load(); a != 1 || b != 0 {
		t.Errorf("listings: alpha %d, beta %d; want 1 and 0", a, b)
	}
	if _, errs := s.Locate(t.Context(), []agent.Ref{{Backend: "gamma", Slug: "x"}}, nil); alpha.enumerated.Load() != 1 || beta.enumerated.Load() != 0 {
		t.Errorf("Locate of an unknown backend's line (%v) listed a backend", errs[0])
	}
}

func TestLocateWhileABackendFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := set(&fake{name: "alpha", agents: []string{"a"}}, &fake{name: "broken", enumErr: boom}, &fake{name: "hung", enumErr: hung})
	found, errs := s.Locate(t.Context(), []agent.Ref{{Slug: "a"}, {Slug: "nowhere"}, {Backend: "broken", Slug: "a"}, {Backend: "hung", Slug: "a"}}, nil)
	if name(found[0].Backend) != "alpha" || errs[0] != nil {
		t.Errorf("Locate(a) = %v, %v; want alpha", name(found[0].Backend), errs[0])
	}
	if found[1].Backend != nil || !errors.Is(errs[1], ErrNotFound) || !errors.Is(errs[1], boom) || !strings.Contains(errs[1].Error(), "broken") || !strings.Contains(errs[1].Error(), "hung") {
		t.Errorf("Locate(nowhere) = %v, %v; want ErrNotFound that also names the broken and the hung backend", name(found[1].Backend), errs[1])
	}
	if !errors.Is(errs[2], boom) || errs[2].Error() != "broken: listing agents: boom" {
		t.Errorf("Locate(broken a) = %v, want the listing's failure", errs[2])
	}
	var unusable *UnusableError
	if !errors.As(errs[3], &unusable) || errs[3].Error() != "hung: socket: no answer within 2s" {
		t.Errorf("Locate(hung a) = %v, want *UnusableError of the hung backend", errs[3])
	}
}

// remover is a fake that can remove orphans.
type remover struct {
	*fake
	removed []string
	err     error
}

func (r remover) RemoveOrphans(context.Context, map[string]string, time.Duration) ([]string, error) {
	return r.removed, r.err
}

func TestRemoveOrphans(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := NewSet(
		remover{fake: &fake{name: "alpha"}, removed: []string{"a1", "a2"}},
		&fake{name: "plain"},
		remover{fake: &fake{name: "absent"}, err: notThere},
		remover{fake: &fake{name: "hung"}, err: hung},
		remover{fake: &fake{name: "broken"}, removed: []string{"b1"}, err: boom})
	removed, err := s.RemoveOrphans(t.Context(), nil, time.Minute)
	want := []agent.Ref{{Backend: "alpha", Slug: "a1"}, {Backend: "alpha", Slug: "a2"}, {Backend: "broken", Slug: "b1"}}
	if !slices.Equal(removed, want) || !errors.Is(err, boom) || err.Error() != "broken: removing orphans: boom" {
		t.Errorf("RemoveOrphans = %v, %v; want %v and only the broken backend's error", removed, err, want)
	}
}

// finder is a fake that can look one agent up.
type finder struct {
	*fake
	found atomic.Int32 // calls of Find
}

func (f *finder) Find(ctx context.Context, slug string, _ map[string]string) (agent.Agent, error) {
	f.found.Add(1)
	if f.hangs {
		<-ctx.Done()
		return agent.Agent{}, ctx.Err()
	}
	if f.enumErr != nil {
		return agent.Agent{}, f.enumErr
	}
	if !slices.Contains(f.agents, slug) {
		return agent.Agent{}, ErrNotFound
	}
	return agent.Agent{Backend: f.name, Slug: slug, Name: "reviewer", Handle: f.name + "/" + slug}, nil
}

// A line that names a Finder is looked up there, one agent at a time, and
// nothing is listed; a bare slug lists every backend, the Finder too, and
// the named lines are then found in that listing.
func TestLocateFinder(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	smol := &finder{fake: &fake{name: "smol", agents: []string{"a", "b"}}}
	off := &finder{fake: &fake{name: "off", enumErr: notThere}}
	broken := &finder{fake: &fake{name: "broken", enumErr: boom}}
	stuck := &finder{fake: &fake{name: "stuck", hangs: true}}
	plain := &fake{name: "plain", agents: []string{"c"}}
	s := NewSet(smol, off, broken, stuck, plain)
	s.listTimeout = 50 * time.Millisecond
	refs := []agent.Ref{{Backend: "smol", Slug: "a"}, {Backend: "smol", Slug: "gone"}, {Backend: "plain", Slug: "c"},
		{Backend: "off", Slug: "a"}, {Backend: "broken", Slug: "a"}, {Backend: "stuck", Slug: "a"}}
	found, errs := s.Locate(t.Context(), refs, nil)
	if found[0].Agent.Handle != "smol/a" || name(found[0].Backend) != "smol" || errs[0] != nil {
		t.Errorf("Locate(smol a) = %+v, %v", found[0], errs[0])
	}
	if !errors.Is(errs[1], ErrNotFound) || errs[1].Error() != "smol gone: no such agent" {
		t.Errorf("Locate(smol gone) = %v, want ErrNotFound", errs[1])
	}
	if name(found[2].Backend) != "plain" || errs[2] != nil {
		t.Errorf("Locate(plain c) = %v, %v", name(found[2].Backend), errs[2])
	}
	var unusable *UnusableError
	if !errors.As(errs[3], &unusable) || !errors.Is(errs[3], ErrUnusable) || errs[3].Error() != "off: not installed" {
		t.Errorf("Locate(off a) = %v, want *UnusableError", errs[3])
	}
	if !errors.Is(errs[4], boom) || errs[4].Error() != "broken: looking up a: boom" {
		t.Errorf("Locate(broken a) = %v", errs[4])
	}
	if errs[5] == nil || errs[5].Error() != "stuck: looking up a: no answer within 50ms" {
		t.Errorf("Locate(stuck a) = %v", errs[5])
	}
	if smol.found.Load() != 2 || smol.enumerated.Load() != 0 || plain.enumerated.Load() != 1 {
		t.Errorf("smol: %d finds, %d listings; plain: %d listings; want 2, 0, 1", smol.found.Load(), smol.enumerated.Load(), plain.enumerated.Load())
	}

	found, errs = s.Locate(t.Context(), []agent.Ref{{Backend: "smol", Slug: "b"}, {Slug: "a"}}, nil)
	if name(found[0].Backend) != "smol" || errs[0] != nil || name(found[1].Backend) != "smol" || errs[1] != nil {
		t.Errorf("Locate(smol b, a) = %v %v, %v %v", name(found[0].Backend), errs[0], name(found[1].Backend), errs[1])
	}
	if smol.found.Load() != 2 || smol.enumerated.Load() != 1 {
		t.Errorf("with a bare slug, smol: %d finds, %d listings; want no more finds and one listing", smol.found.Load(), smol.enumerated.Load())
	}
}
