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
	meet       *together    // Usable waits there for the other backends
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

func (f *fake) Enumerate(ctx context.Context, _ agent.Query) ([]agent.Agent, error) {
	f.enumerated.Add(1)
	if f.hangs {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.enumErr != nil {
		return nil, f.enumErr
	}
	var out []agent.Agent
	for _, s := range f.agents {
		out = append(out, agent.Agent{Backend: f.name, Slug: s, Name: "reviewer", Services: []string{"egress"}})
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

// useRegistry replaces the registry for the rest of the test.
func useRegistry(t *testing.T, bs ...*fake) {
	t.Helper()
	saved := registry
	t.Cleanup(func() { registry = saved })
	registry = nil
	for _, b := range bs {
		registry = append(registry, b)
	}
}

// name is the backend's name, or "" for nil.
func name(b Backend) string {
	if b == nil {
		return ""
	}
	return b.Name()
}

func TestNamesAndLookup(t *testing.T) {
	beta, alpha := &fake{name: "beta"}, &fake{name: "alpha"}
	useRegistry(t, beta, alpha)
	if got := Names(); !slices.Equal(got, []string{"beta", "alpha"}) {
		t.Errorf("Names() = %q, want registry order [beta alpha]", got)
	}
	if b, err := Lookup("alpha"); err != nil || b != Backend(alpha) {
		t.Errorf("Lookup(alpha) = %v, %v; want the alpha backend", name(b), err)
	}
	b, err := Lookup("gamma")
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
	for _, tc := range []struct {
		registry   []string
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
		for _, n := range tc.registry {
			fakes = append(fakes, &fake{name: n})
		}
		useRegistry(t, fakes...)
		t.Setenv(EnvBackend, tc.env)
		b, err := Resolve(tc.flag)
		what := "Resolve(" + tc.flag + ") with " + EnvBackend + "=" + tc.env + " and backends " + strings.Join(tc.registry, ",")
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

func TestHasBackend(t *testing.T) {
	reason := errors.New("no daemon answers")
	useRegistry(t, &fake{name: "alpha"}, &fake{name: "beta", unusable: reason})
	ctx := t.Context()
	if err := HasBackend(ctx, "alpha"); err != nil {
		t.Errorf("HasBackend(alpha) = %v, want nil", err)
	}
	err := HasBackend(ctx, "beta")
	var unusable *UnusableError
	if !errors.As(err, &unusable) || !errors.Is(err, reason) || err.Error() != "beta: no daemon answers" {
		t.Errorf("HasBackend(beta) = %v (%T), want *UnusableError %q", err, err, "beta: no daemon answers")
	}
	var unknown *UnknownError
	if err := HasBackend(ctx, "gamma"); !errors.As(err, &unknown) {
		t.Errorf("HasBackend(gamma) = %v (%T), want *UnknownError", err, err)
	}
}

func TestProbe(t *testing.T) {
	meet := meeting(2)
	useRegistry(t,
		&fake{name: "alpha", meet: meet},
		&fake{name: "beta", meet: meet, unusable: errors.New("down")})
	errs := Probe(t.Context(), []string{"beta", "gamma", "alpha"})
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

func TestEnumerateActiveAgents(t *testing.T) {
	off := &fake{name: "off", unusable: errors.New("not here"), agents: []string{"ghost"}}
	useRegistry(t,
		&fake{name: "beta", agents: []string{"z", "a", "m"}},
		off,
		&fake{name: "alpha", agents: []string{"c", "b"}},
		&fake{name: "empty"})
	got := EnumerateActiveAgents(t.Context(), agent.Query{})
	want := []string{"beta/a", "beta/m", "beta/z", "alpha/b", "alpha/c"}
	if !slices.Equal(slugs(got.Agents), want) || len(got.Failed)+len(got.Hung) > 0 {
		t.Errorf("EnumerateActiveAgents = %q, %v, %v; want %q and no errors", slugs(got.Agents), got.Failed, got.Hung, want)
	}
	if n := off.enumerated.Load(); n != 0 {
		t.Errorf("the unusable backend was enumerated %d times, want 0", n)
	}
}

func TestEnumerateActiveAgentsFailure(t *testing.T) {
	boom := errors.New("boom")
	defer func(saved time.Duration) { listTimeout = saved }(listTimeout)
	listTimeout = 50 * time.Millisecond
	useRegistry(t,
		&fake{name: "alpha", agents: []string{"a"}},
		&fake{name: "broken", enumErr: boom},
		&fake{name: "stuck", hangs: true},
		&fake{name: "hung", unusable: fmt.Errorf("socket: %w within 2s", agent.ErrNoAnswer)},
		&fake{name: "absent", unusable: errors.New("not installed")},
		&fake{name: "beta", agents: []string{"b"}})
	got := EnumerateActiveAgents(t.Context(), agent.Query{})
	if want := []string{"alpha/a", "beta/b"}; !slices.Equal(slugs(got.Agents), want) {
		t.Errorf("EnumerateActiveAgents = %q, want the others' agents %q", slugs(got.Agents), want)
	}
	if len(got.Failed) != 2 || !errors.Is(got.Failed[0], boom) || got.Failed[0].Error() != "broken: listing agents: boom" ||
		got.Failed[1].Error() != "stuck: listing agents: no answer within 50ms" {
		t.Errorf("Failed = %v, want the broken and the stuck backend", got.Failed)
	}
	if len(got.Hung) != 1 || got.Hung[0].Error() != "hung: socket: no answer within 2s" {
		t.Errorf("Hung = %v, want the hung backend only, not the absent one", got.Hung)
	}
}

func TestEnumerateActiveAgentsConcurrent(t *testing.T) {
	meet := meeting(2)
	useRegistry(t, &fake{name: "alpha", meet: meet, agents: []string{"a"}}, &fake{name: "beta", meet: meet, agents: []string{"b"}})
	if got := EnumerateActiveAgents(t.Context(), agent.Query{}); len(got.Agents) != 2 {
		t.Fatalf("EnumerateActiveAgents = %q, want both backends' agents, asked at once", slugs(got.Agents))
	}
}

func TestLocate(t *testing.T) {
	alpha := &fake{name: "alpha", agents: []string{"only-a", "both"}}
	beta := &fake{name: "beta", agents: []string{"both", "only-b"}}
	off := &fake{name: "off", unusable: errors.New("not here"), agents: []string{"hidden"}}
	useRegistry(t, alpha, beta, off)
	enumerations := func() []int32 {
		return []int32{alpha.enumerated.Load(), beta.enumerated.Load(), off.enumerated.Load()}
	}

	// Refs that name their backend need no enumeration.
	bs, errs := Locate(t.Context(), []agent.Ref{{Backend: "beta", Slug: "anything"}, {Backend: "alpha", Slug: "both"}}, nil)
	if name(bs[0]) != "beta" || name(bs[1]) != "alpha" || errs[0] != nil || errs[1] != nil {
		t.Errorf("Locate of refs with a backend = [%v %v], %v; want [beta alpha]", name(bs[0]), name(bs[1]), errs)
	}
	if n := enumerations(); !slices.Equal(n, []int32{0, 0, 0}) {
		t.Errorf("Locate of refs with a backend enumerated %v times, want none", n)
	}

	refs := []agent.Ref{
		{Slug: "only-b"},
		{Slug: "both"},
		{Slug: "nowhere"},
		{Slug: "hidden"},
		{Backend: "gamma", Slug: "x"},
		{Backend: "off", Slug: "x"},
		{Slug: "only-a"},
		{Backend: "alpha", Slug: "x"},
	}
	bs, errs = Locate(t.Context(), refs, nil)
	if len(bs) != len(refs) || len(errs) != len(refs) {
		t.Fatalf("Locate of %d refs gave %d backends and %d errors", len(refs), len(bs), len(errs))
	}
	if n := enumerations(); !slices.Equal(n, []int32{1, 1, 0}) {
		t.Errorf("Locate of several bare slugs: Enumerate calls per backend %v, want [1 1 0]", n)
	}
	check := func(i int, backend string, ok func(error) bool, what string) {
		t.Helper()
		if name(bs[i]) != backend || !ok(errs[i]) {
			t.Errorf("Locate(%v) = %v, %v; want %q, %s", refs[i], name(bs[i]), errs[i], backend, what)
		}
	}
	isNil := func(err error) bool { return err == nil }
	notFound := func(err error) bool { return errors.Is(err, agent.ErrNotFound) }
	check(0, "beta", isNil, "no error")
	check(1, "", func(err error) bool {
		var amb *AmbiguousError
		return errors.As(err, &amb) &&
			strings.Contains(err.Error(), "\nalpha\tboth\treviewer\tegress") &&
			strings.Contains(err.Error(), "\nbeta\tboth\treviewer\tegress")
	}, "*AmbiguousError listing the alpha and beta lines")
	check(2, "", notFound, "agent.ErrNotFound")
	check(3, "", notFound, "agent.ErrNotFound (its backend is unusable)")
	check(4, "", func(err error) bool { var e *UnknownError; return errors.As(err, &e) }, "*UnknownError")
	check(5, "", func(err error) bool { var e *UnusableError; return errors.As(err, &e) }, "*UnusableError")
	check(6, "alpha", isNil, "no error")
	check(7, "alpha", isNil, "no error")
}

func TestLocateWhileABackendFails(t *testing.T) {
	boom := errors.New("boom")
	useRegistry(t, &fake{name: "alpha", agents: []string{"a"}}, &fake{name: "broken", enumErr: boom})
	bs, errs := Locate(t.Context(), []agent.Ref{{Slug: "a"}, {Slug: "nowhere"}}, nil)
	if name(bs[0]) != "alpha" || errs[0] != nil {
		t.Errorf("Locate(a) = %v, %v; want alpha", name(bs[0]), errs[0])
	}
	if bs[1] != nil || !errors.Is(errs[1], agent.ErrNotFound) || !errors.Is(errs[1], boom) || !strings.Contains(errs[1].Error(), "broken") {
		t.Errorf("Locate(nowhere) = %v, %v; want agent.ErrNotFound that also names the broken backend", name(bs[1]), errs[1])
	}
}

// probing is a fake whose listing is its own probe.
type probing struct {
	*fake
	listErr error
}

func (p probing) Usable(context.Context) error {
	panic("a probing backend is never probed before a listing")
}

func (p probing) EnumerateProbing(ctx context.Context, q agent.Query) ([]agent.Agent, error) {
	if p.listErr != nil {
		return nil, p.listErr
	}
	return p.Enumerate(ctx, q)
}

func TestEnumerateActiveAgentsProbing(t *testing.T) {
	saved := registry
	t.Cleanup(func() { registry = saved })
	registry = []Backend{
		probing{fake: &fake{name: "here", agents: []string{"a"}}},
		probing{fake: &fake{name: "absent"}, listErr: fmt.Errorf("cannot run it: %w", agent.ErrUnusable)},
		probing{fake: &fake{name: "hung"}, listErr: fmt.Errorf("ls: %w within 5s", agent.ErrNoAnswer)},
		probing{fake: &fake{name: "broken"}, listErr: errors.New("exit status 1")},
	}
	got := EnumerateActiveAgents(t.Context(), agent.Query{})
	if !slices.Equal(slugs(got.Agents), []string{"here/a"}) {
		t.Errorf("agents %q, want here/a", slugs(got.Agents))
	}
	if len(got.Hung) != 1 || got.Hung[0].Error() != "hung: ls: no answer within 5s" {
		t.Errorf("Hung = %v, want the hung backend only", got.Hung)
	}
	if len(got.Failed) != 1 || got.Failed[0].Error() != "broken: listing agents: exit status 1" {
		t.Errorf("Failed = %v, want the broken backend only", got.Failed)
	}
}
