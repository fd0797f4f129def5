package smolmachines

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseListFixtures(t *testing.T) {
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
	agent := New().agent(got[0])
	if agent.Slug != "reviewer-3f9a1c" || agent.Name != "reviewer" || !reflect.DeepEqual(agent.Services, []string{"egress", "pipelock"}) ||
		agent.StartedAt.Format(time.RFC3339) != "2026-11-28T05:20:00Z" || agent.Backend != "smolmachines" {
		t.Fatalf("agent of the running machine = %+v", agent)
	}
	if services := New().agent(got[1]).Services; services != nil {
		t.Fatalf("an empty services label gave %q, want none", services)
	}
}

func TestParseListErrors(t *testing.T) {
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
			if _, ok := m.Labels[labelSlug]; !ok {
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
