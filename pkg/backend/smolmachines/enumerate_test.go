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
	// bottle labels, never listed), and a stopped agent.
	got, err := parseList(readFixture(t, "ls-mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []machine{
		{Name: "reviewer-3f9a1c", State: "running", CreatedAt: time.Unix(1795843200, 0).UTC(), Labels: map[string]string{
			"dev.bottle.agent": "reviewer", "dev.bottle.services": "egress,pipelock", "dev.bottle.slug": "reviewer-3f9a1c"}},
		{Name: "writer-77b10e", State: "stopped", CreatedAt: time.Unix(1795839600, 0).UTC(), Labels: map[string]string{
			"dev.bottle.agent": "writer", "dev.bottle.services": "", "dev.bottle.slug": "writer-77b10e"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseList(ls-mixed.json) =\n%+v\nwant\n%+v", got, want)
	}
	a := New(Config{}).agent(got[0])
	if a.Slug != "reviewer-3f9a1c" || a.Name != "reviewer" || !reflect.DeepEqual(a.Services, []string{"egress", "pipelock"}) ||
		a.StartedAt.Format(time.RFC3339) != "2026-11-28T05:20:00Z" || a.Backend != "smolmachines" {
		t.Fatalf("agent of the running machine = %+v", a)
	}
	if services := New(Config{}).agent(got[1]).Services; services != nil {
		t.Fatalf("an empty services label gave %q, want none", services)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	m, err := parseStatus(readFixture(t, "status-running.json"))
	want := machine{Name: "reviewer-3f9a1c", State: "running", CreatedAt: time.Unix(1795843200, 0).UTC(), Labels: map[string]string{
		"dev.bottle.agent": "reviewer", "dev.bottle.attach": `["/bin/sh"]`, "dev.bottle.services": "egress,pipelock", "dev.bottle.slug": "reviewer-3f9a1c"}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("parseStatus(status-running.json) = %+v, %v; want %+v", m, err, want)
	}
	for _, tc := range []struct{ out, want string }{
		{`{"name": "a",`, `output is not valid JSON: {"name": "a",`},
		{`[]`, "the machine is an array, not an object"},
		{`{"labels": {}, "name": "dev", "state": "running", "created_at": 1}`, "the machine has no dev.bottle.slug label"},
		{`{"labels": {"dev.bottle.slug": "a"}, "name": "a", "state": "running"}`, `the machine: "created_at" is missing, not a number`},
	} {
		if _, err := parseStatus([]byte(tc.out)); err == nil || err.Error() != tc.want {
			t.Errorf("parseStatus(%q) = %v, want %q", tc.out, err, tc.want)
		}
	}
}

// An agent carries its attach command and the machine to act on, which
// must be the one named by its slug.
func TestAgentHandle(t *testing.T) {
	t.Parallel()
	b := New(Config{})
	a := b.agent(machine{Name: "rv-1", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1", "dev.bottle.attach": `["/bin/sh","-l"]`}})
	if name, err := machineOf(a); err != nil || name != "rv-1" || !reflect.DeepEqual(a.Attach, []string{"/bin/sh", "-l"}) {
		t.Errorf("agent %+v: machine %q, %v; want rv-1 with its attach command", a, name, err)
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
		{`[{"name": "x"}]`, `machine 0: "labels" is missing, not an object`},
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
