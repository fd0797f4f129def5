package smolmachines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// largeListing is a `machine ls --json` of n machines made of copies of the
// first three machines of ls-mixed.json, so that it has exactly smolvm's shape:
// of every ten, eight running agents, one machine of the user's own and one
// stopped agent. It returns the listing and how many machines carry the
// slug label.
func largeListing(tb testing.TB, n int) ([]byte, int) {
	var templates []json.RawMessage
	if err := json.Unmarshal(readFixture(tb, "ls-mixed.json"), &templates); err != nil || len(templates) < 3 {
		tb.Fatalf("ls-mixed.json: want a running agent, a machine of the user's and a stopped agent first (%v)", err)
	}
	set := func(m []byte, key, val string) []byte {
		old := gjson.GetBytes(m, key)
		if !old.Exists() {
			tb.Fatalf("ls-mixed.json: a machine without %q", key)
		}
		return slices.Concat(m[:old.Index], []byte(val), m[old.Index+len(old.Raw):])
	}
	agentMachine := func(t json.RawMessage, slug string, created int) []byte {
		m := set(t, "name", strconv.Quote(slug))
		m = set(m, "created_at", strconv.Itoa(created))
		return set(m, "labels."+gjson.Escape(labels.Slug), strconv.Quote(slug))
	}
	var b bytes.Buffer
	b.WriteString("[\n")
	ours := 0
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		switch k := i % 10; {
		case k < 8:
			b.Write(agentMachine(templates[0], fmt.Sprintf("reviewer-%06x", i), 1795843200+i))
			ours++
		case k == 8:
			b.Write(set(templates[1], "name", strconv.Quote(fmt.Sprintf("dev-%d", i))))
		default:
			b.Write(agentMachine(templates[2], fmt.Sprintf("writer-%06x", i), 1795839600+i))
			ours++
		}
	}
	b.WriteString("\n]\n")
	return b.Bytes(), ours
}

// BenchmarkParseList is reading a large `smolvm machine ls --json`: the
// validity check, every field's type, and the labels of the toolkit's
// machines.
func BenchmarkParseList(b *testing.B) {
	for _, n := range []int{3, 200, 5000} {
		b.Run(fmt.Sprintf("machines=%d", n), func(b *testing.B) {
			out, ours := largeListing(b, n)
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				machines, err := parseList(out)
				if err != nil {
					b.Fatal(err)
				}
				if len(machines) != ours {
					b.Fatalf("%d machines, want %d", len(machines), ours)
				}
			}
		})
	}
}

// BenchmarkListToAgents is what Enumerate does with the output of the one
// smolvm it runs: parse it, keep the running machines carrying the user's
// labels, and make them agents.
func BenchmarkListToAgents(b *testing.B) {
	out, _ := largeListing(b, 5000)
	be := New(Config{})
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		machines, err := parseList(out)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, m := range machines {
			if m.State != "running" || !labels.Carries(m.Labels, nil) {
				continue
			}
			_ = be.agent(m)
			n++
		}
		if n != 4000 {
			b.Fatalf("%d agents, want 4000", n)
		}
	}
}
