package smolmachines

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
)

func TestParseListFixtures(t *testing.T) {
	t.Parallel()
	empty, err := parseList(readFixture(t, "ls-empty.json"))
	if err != nil || len(empty) != 0 {
		t.Fatalf("ls-empty.json: %v, %v; want no machines", empty, err)
	}
	// The mixed fixture: a running agent, a machine the user made (no
	// bottle labels, never listed), a stopped agent, a running one and
	// one whose VM does not answer.
	got, err := parseList(readFixture(t, "ls-mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The fixtures' machines were made when an attach command was a
	// label of its own, dev.bottle.attach; it is kept, and ignored.
	bottle := func(agent, oldAttach, services, slug string) map[string]string {
		return map[string]string{"dev.bottle.agent": agent, "dev.bottle.attach": oldAttach, "dev.bottle.services": services, "dev.bottle.slug": slug}
	}
	want := []machine{
		{Name: "reviewer-3f9a1c", State: "running", CreatedAt: time.Unix(1795843200, 0).UTC(), Labels: bottle("reviewer", `["/bin/sh"]`, "egress,pipelock", "reviewer-3f9a1c")},
		{Name: "writer-77b10e", State: "stopped", CreatedAt: time.Unix(1795839600, 0).UTC(), Labels: bottle("writer", `["/bin/sh"]`, "", "writer-77b10e")},
		{Name: "coder-a41b07", State: "running", CreatedAt: time.Unix(1795846800, 0).UTC(), Labels: bottle("coder", `["claude"]`, "egress", "coder-a41b07")},
		{Name: "tester-5c2e98", State: "unreachable", CreatedAt: time.Unix(1795836000, 0).UTC(), Labels: bottle("tester", `["/bin/sh"]`, "egress", "tester-5c2e98")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseList(ls-mixed.json) =\n%+v\nwant\n%+v", got, want)
	}
	a := New(Config{}).agent(got[0])
	if a.Slug != "reviewer-3f9a1c" || a.Name != "reviewer" || !reflect.DeepEqual(a.Services, []string{"egress", "pipelock"}) ||
		a.StartedAt.Format(time.RFC3339) != "2026-11-28T05:20:00Z" || a.Backend != "smolmachines" || a.State != "running" {
		t.Fatalf("agent of the running machine = %+v", a)
	}
	if services := New(Config{}).agent(got[1]).Services; services != nil {
		t.Fatalf("an empty services label gave %q, want none", services)
	}
	if a := New(Config{}).agent(got[3]); a.State != "unreachable" {
		t.Fatalf("agent of the unreachable machine = %+v", a)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	m, ours, err := parseStatus(readFixture(t, "status-running.json"))
	want := machine{Name: "reviewer-3f9a1c", State: "running", CreatedAt: time.Unix(1795843200, 0).UTC(), Labels: map[string]string{
		"dev.bottle.agent": "reviewer", "dev.bottle.attach": `["/bin/sh"]`, "dev.bottle.services": "egress,pipelock", "dev.bottle.slug": "reviewer-3f9a1c"}}
	if err != nil || !ours || !reflect.DeepEqual(m, want) {
		t.Fatalf("parseStatus(status-running.json) = %+v, %v, %v; want %+v", m, ours, err, want)
	}
	if _, ours, err := parseStatus([]byte(`{"labels": {}, "name": "dev", "state": "running", "created_at": 1}`)); ours || err != nil {
		t.Errorf("a machine of the user's own: ours %v, %v", ours, err)
	}
	for _, tc := range []struct{ out, want string }{
		{`{"name": "a",`, `output is not valid JSON: {"name": "a",`},
		{`[]`, "the machine is an array, not an object"},
		{`{"labels": {"dev.bottle.slug": "a"}, "name": "a", "state": "running"}`, `the machine: "created_at" is missing, not a number`},
	} {
		if _, _, err := parseStatus([]byte(tc.out)); err == nil || err.Error() != tc.want {
			t.Errorf("parseStatus(%q) = %v, want %q", tc.out, err, tc.want)
		}
	}
}

// Only a smolvm before 1.8.0 prints machines without "labels": that
// smolvm is too old, which makes the backend unusable, not broken.
func TestParseTooOld(t *testing.T) {
	t.Parallel()
	const want = `smolvm is older than 1.8.0, the first to label machines, which bottle needs (its machines have no "labels")`
	_, err := parseList([]byte(`[{"name": "x", "state": "running", "created_at": 1}]`))
	if !errors.Is(err, backend.ErrUnusable) || err.Error() != want {
		t.Errorf("parseList of a machine without labels = %v, want ErrUnusable %q", err, want)
	}
	if _, _, err := parseStatus([]byte(`{"name": "x"}`)); !errors.Is(err, backend.ErrUnusable) {
		t.Errorf("parseStatus of a machine without labels = %v, want ErrUnusable", err)
	}
}

// An agent carries the machine to act on, which
// must be the one named by its slug.
func TestAgentHandle(t *testing.T) {
	t.Parallel()
	b := New(Config{})
	a := b.agent(machine{Name: "rv-1", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1"}})
	if name, err := machineOf(a); err != nil || name != "rv-1" {
		t.Errorf("agent %+v: machine %q, %v; want rv-1", a, name, err)
	}
	impostor := b.agent(machine{Name: "dev", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1"}})
	if name, err := machineOf(impostor); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("a machine named dev with the slug rv-1 gave machine %q, %v; want ErrNotFound", name, err)
	}
	if _, err := machineOf(agent.Agent{Slug: "rv-1"}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("an agent no listing found gave %v, want ErrNotFound", err)
	}
}

func TestParseListErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ out, want string }{
		{``, "output is not valid JSON: "},
		{`[{"name": "a",`, `output is not valid JSON: [{"name": "a",`},
		{`{"machines": []}`, "output is an object, not an array"},
		{`[1]`, "machine 0 is a number, not an object"},
		{`[{"labels": []}]`, `machine 0: "labels" is an array, not an object`},
		{`[{"labels": {"dev.bottle.slug": 7}}]`, `machine 0: label "dev.bottle.slug" is a number, not a string`},
		{`[{"labels": {"dev.bottle.slug": "a"}, "name": "a", "state": "running", "created_at": "yesterday"}]`, `machine 0: "created_at" is a string, not a number`},
		{`[{"labels": {}}, {"labels": {"dev.bottle.slug": "a"}, "state": "running", "created_at": 1}]`, `machine 1: "name" is missing, not a string`},
		{`[{"labels": {"dev.bottle.slug": "a"}, "name": "a", "state": null, "created_at": 1}]`, `machine 0: "state" is null, not a string`},
	} {
		_, err := parseList([]byte(tc.out))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("parseList(%q) = %v, want an error starting %q", tc.out, err, tc.want)
		}
	}
	// Machines the toolkit did not make are skipped whatever else they hold.
	if got, err := parseList([]byte(`[{"labels": {}, "name": 5, "created_at": "x"}]`)); err != nil || len(got) != 0 {
		t.Fatalf("a foreign machine gave %v, %v", got, err)
	}
}

func FuzzParseList(f *testing.F) {
	for _, name := range []string{"ls-empty.json", "ls-mixed.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`[{"labels": {"dev.bottle.slug": "a\tb"}, "name": "a", "state": "running", "created_at": 1e300}]`))
	f.Fuzz(func(t *testing.T, out []byte) {
		machines, err := parseList(out)
		if err != nil && machines != nil {
			t.Fatalf("machines %v with error %v", machines, err)
		}
		for _, m := range machines {
			if _, ok := m.Labels[labels.Slug]; !ok {
				t.Fatalf("machine %+v without the slug label", m)
			}
		}
	})
}

func readFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
